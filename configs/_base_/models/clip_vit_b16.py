# OpenAI CLIP ViT-B/16 @224 through open_clip (architecture ViT-B-16, pretrained tag 'openai'), 512-d.
# CITE's image tower. Offline: set model.foundation_model to a local checkpoint file (model_name stays).
# OpenAI's weights were trained with QuickGELU (open_clip's ViT-B-16-quickgelu): quick_gelu=True on both towers
# keeps it on every route (tag, checkpoint file, directory).
# Preprocessing of open_clip's transform for ViT-B-16/openai: shorter side 224 bicubic, centre crop 224.
image_resize = dict(size=224, crop_size=224, interpolation='bicubic')
model = dict(
    type='VLMClassifier',
    foundation_model='openai',
    data_preprocessor=dict(type='VLMDataPreprocessor', resize=image_resize, model_name='ViT-B-16'),
    backbone=dict(type='OpenCLIPVision', model_name='ViT-B-16', out_type='embedding', normalize=True,
                  quick_gelu=True),
    head=dict(type='TextEmbeddingHead', text_encoder=dict(type='OpenCLIPText', model_name='ViT-B-16',
                                                          quick_gelu=True)),
)

# The seed notebook's LoRA for this tower (r=4 on q/k/v, scaling 1): open_clip's nn.MultiheadAttention
# in_proj per part, out_proj left alone. Matrix configs use it as `peft=[_base_.lora_qkv]`.
lora_qkv = dict(type='LoRA', rank=4, alpha=4, dropout=0., targets=['attn'], qkv_parts=['q', 'k', 'v'],
                out_proj=False)
