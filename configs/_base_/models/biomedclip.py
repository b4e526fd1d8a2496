# BiomedCLIP (open_clip hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224): timm ViT-B/16 @224 +
# PubMedBERT text tower (context 256), 512-d. Offline: download the repo to a folder and set
# model.foundation_model to it; open_clip also reads the PubMedBERT config
# (microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract) from the HF cache to build the text tower.
# Preprocessing of open_clip's transform for BiomedCLIP: shorter side 224 bicubic, centre crop 224.
image_resize = dict(size=224, crop_size=224, interpolation='bicubic')
model = dict(
    type='VLMClassifier',
    foundation_model='hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224',
    data_preprocessor=dict(type='VLMDataPreprocessor', resize=image_resize),
    backbone=dict(type='OpenCLIPVision', out_type='embedding', normalize=True),
    head=dict(type='TextEmbeddingHead', text_encoder=dict(type='OpenCLIPText')),
)

# The seed notebook's LoRA for this tower (r=4 on q/k/v, scaling 1): the timm trunk's fused `qkv`, per
# part. Matrix configs use it as `peft=[_base_.lora_qkv]`.
lora_qkv = dict(type='LoRA', rank=4, alpha=4, dropout=0., targets=['qkv'], qkv_parts=['q', 'k', 'v'])
