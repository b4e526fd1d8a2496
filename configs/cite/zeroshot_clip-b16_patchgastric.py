# CITE baseline "zero-shot": CLIP ViT-B/16 image and text towers, raw class names as prompts (CITE's '{}'),
# cosine x CLIP's logit scale. No training:  python tools/test.py configs/cite/zeroshot_clip-b16_patchgastric.py
_base_ = ['../_base_/experiments/cite_patchgastric.py']

model = dict(backbone=dict(peft=[]), neck=None,
             head=dict(_delete_=True, type='TextEmbeddingHead', num_classes=3,
                       text_encoder=dict(type='OpenCLIPText', model_name='ViT-B-16', quick_gelu=True),
                       prompts=dict(dataset='PatchGastricDataset', templates=['[CLS]'],
                                    classes=_base_.CITE_CLASS_NAMES)))
