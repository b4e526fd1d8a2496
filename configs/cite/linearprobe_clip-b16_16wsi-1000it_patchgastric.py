# CITE baseline "linear probe": frozen CLIP ViT-B/16, linear classifier on its 512-d image embedding (SGD lr 1e-2,
# CITE's). Other k: --cfg-options train_dataloader.dataset.num_wsis=K
_base_ = ['../_base_/experiments/cite_patchgastric.py']

model = dict(backbone=dict(peft=[], normalize=False), neck=None,
             head=dict(_delete_=True, type='LinearClsHead', num_classes=3, in_channels=512))
optim_wrapper = dict(optimizer=dict(lr=1e-2))
# CITE's baselines shuffle the support (no class balancing; only CITE itself balances).
train_dataloader = dict(sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
