# Adaptor: frozen DINOv2 ViT-B/14 (facebook/dinov2-base, CLS token, 768-d) + frozen BioLinkBERT-large (1024-d) on PatchGastric captions.
_base_ = ['./_base_/adaptor_patchgastric.py']

unimodal = dict(vision=dict(type='HFVisionBackbone', pretrained='facebook/dinov2-base', pooling='cls'),
                text=dict(type='HFTextEncoder', pretrained='michiyasunaga/BioLinkBERT-large', pooling='cls'))
model = dict(image_dim=768, text_dim=1024)
# Datasets carry their own copy of `unimodal` (it keys the cache): re-link it after overriding.
train_dataloader = dict(dataset=dict(unimodal=unimodal))
val_dataloader = dict(dataset=dict(unimodal=unimodal))
test_dataloader = val_dataloader
