# CONCH (MahmoodLab/CONCH, gated, CC-BY-NC-ND 4.0): CoCa ViT-B/16 @448, 512-d contrastive image embedding,
# rebuilt from timm/open_clip parts (no conch package). Native input is 448 px: the data preprocessor resizes
# as CONCH's transform does (below), whatever the dataset's image size. OpenAI CLIP mean/std.
# CONCH's text tower needs its own tokenizer (conch repository only), so this base has no text head:
# experiments add a head (linear probe / adapters on cached features, or a TextEmbeddingHead with another
# text encoder). Offline: model.foundation_model=/path/to/CONCH (folder with pytorch_model.bin).
# Preprocessing of CONCH's own transform: shorter side 448 bicubic, centre crop 448.
image_resize = dict(size=448, crop_size=448, interpolation='bicubic')
model = dict(
    type='VLMClassifier',
    foundation_model='MahmoodLab/CONCH',
    data_preprocessor=dict(type='VLMDataPreprocessor', resize=image_resize,
                           mean=[122.770938, 116.7460125, 104.09373615], std=[68.5005327, 66.6321579, 70.32316305]),
    backbone=dict(type='CONCHVision', out_type='embedding', normalize=True),
)

# The seed notebook's LoRA for this tower (r=4 on q/k/v, scaling 1): the timm trunk's fused `qkv`, per
# part. Matrix configs use it as `peft=[_base_.lora_qkv]`.
lora_qkv = dict(type='LoRA', rank=4, alpha=4, dropout=0., targets=['qkv'], qkv_parts=['q', 'k', 'v'])
