# PLIP (vinid/plip): CLIP ViT-B/32 @224 trained on pathology image-text pairs, 512-d joint space.
# Image tower -> pooled -> projection -> L2 norm; classifier = cosine against class-prompt embeddings from
# PLIP's own text tower (frozen, computed once). Set num_classes/prompts in the experiment config.
# Preprocessing of vinid/plip's CLIPImageProcessor: shorter side 224 bicubic (antialiased), centre crop 224.
image_resize = dict(size=224, crop_size=224, interpolation='bicubic')
model = dict(
    type='VLMClassifier',
    foundation_model='vinid/plip',
    data_preprocessor=dict(type='VLMDataPreprocessor', resize=image_resize),
    backbone=dict(type='HFCLIPVision', out_type='embedding', normalize=True),
    head=dict(type='TextEmbeddingHead', text_encoder=dict(type='HFCLIPText')),
)

# The seed notebook's LoRA for this tower (r=4 on q/k/v, scaling 1); matrix configs use it as
# `peft=[_base_.lora_qkv]`, so swapping the model base swaps the targets too.
lora_qkv = dict(type='LoRA', rank=4, alpha=4, dropout=0., targets=['q_proj', 'k_proj', 'v_proj'])
