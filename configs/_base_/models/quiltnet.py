# QuiltNet (open_clip hf-hub:wisdomik/QuiltNet-B-32): CLIP ViT-B/32 @224 trained on Quilt-1M, 512-d.
# Image tower -> projection -> L2 norm; text tower via open_clip's tokenizer; mean/std from the repo's
# open_clip_config.json. Offline: download the repo to a folder and set model.foundation_model to it.
# Preprocessing of open_clip's transform for QuiltNet-B-32: shorter side 224 bicubic, centre crop 224.
image_resize = dict(size=224, crop_size=224, interpolation='bicubic')
model = dict(
    type='VLMClassifier',
    foundation_model='hf-hub:wisdomik/QuiltNet-B-32',
    data_preprocessor=dict(type='VLMDataPreprocessor', resize=image_resize),
    backbone=dict(type='OpenCLIPVision', out_type='embedding', normalize=True),
    head=dict(type='TextEmbeddingHead', text_encoder=dict(type='OpenCLIPText')),
)

# The seed notebook's LoRA for this tower (r=4 on q/k/v, scaling 1): open_clip's nn.MultiheadAttention
# in_proj per part, out_proj left alone. Matrix configs use it as `peft=[_base_.lora_qkv]`.
lora_qkv = dict(type='LoRA', rank=4, alpha=4, dropout=0., targets=['attn'], qkv_parts=['q', 'k', 'v'],
                out_proj=False)
