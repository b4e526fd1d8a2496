# Adaptor: frozen UNI ViT-L/16 (MahmoodLab/UNI, gated; local weights, 1024-d) + frozen BioLinkBERT-large (1024-d) on PatchGastric captions.
_base_ = ['./_base_/adaptor_patchgastric.py']

# UNI's checkpoint file carries no preprocessing config: ImageNet mean/std (0-255 units).
unimodal_pre = dict(type='VLMDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
unimodal = dict(vision=dict(type='TimmViT', model_name='vit_large_patch16_224', pretrained='data/models/UNI/pytorch_model.bin',
                model_kwargs=dict(img_size=224, init_values=1e-5, dynamic_img_size=True)),
                text=dict(type='HFTextEncoder', pretrained='michiyasunaga/BioLinkBERT-large', pooling='cls'), data_preprocessor=unimodal_pre)
model = dict(image_dim=1024, text_dim=1024)
# Datasets carry their own copy of `unimodal` (it keys the cache): re-link it after overriding.
train_dataloader = dict(dataset=dict(unimodal=unimodal))
val_dataloader = dict(dataset=dict(unimodal=unimodal))
test_dataloader = val_dataloader
