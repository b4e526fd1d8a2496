# An OpenMMLab user's config: mmpretrain's own ViT-B/16 model base, unchanged, + our SICAPv2 16-shot dataset.
# PEFT is one key on the backbone (`peft=[...]`, applied while the model is built); everything else is stock
# mmpretrain (VisionTransformer, VisionTransformerClsHead, ClsDataPreprocessor). Any registered backbone works
# the same way (TIMMBackbone, ours...); other methods: BitFit, LayerNormAffine, VisualPromptTuning, HFPeft.
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    '../_base_/datasets/sicapv2_fewshot.py',
    '../_base_/schedules/adam_20e.py',
    '../_base_/default_runtime.py',  # default_scope='mmmedfm': `ImageClassifier` here accepts backbone.peft
]

model = dict(
    # mmpretrain's MAE-pretrained ViT-B/16 @224 (model zoo, vision_transformer/metafile.yml); loaded at build,
    # before LoRA is injected.
    backbone=dict(
        init_cfg=dict(_delete_=True, type='Pretrained', prefix='backbone.',
                      checkpoint='https://mmassets.onedl.ai/mmclassification/v0/vit/'
                      'vit-base-p16_pt-32xb128-mae_in1k_20220623-4c544545.pth'),
        # mmpretrain's ViT attention is a fused `qkv` nn.Linear: LoRA on its q and v thirds.
        peft=[dict(type='LoRA', rank=4, alpha=4, targets=['qkv'], qkv_parts=['q', 'v'])]),
    head=dict(num_classes=4),
    data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor', num_classes=4, to_rgb=True,
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
)
