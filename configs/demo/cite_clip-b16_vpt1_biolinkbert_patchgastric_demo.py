# configs/cite/cite_clip-b16_vpt1_biolinkbert_patchgastric_16wsi.py on the offline demo assets
# (`python tools/misc/make_demo_assets.py`): tiny random models in the real formats (open_clip ViT-B/16 token
# layout with a 64-d embedding for CLIP ViT-B-16, a 96-d BERT for BioLinkBERT-large, so the neck maps 64 -> 96)
# and a synthetic PatchGastric. Besides paths and widths only the sizes change: k = 2 WSIs, batch 16, 60 iters.
_base_ = ['../cite/cite_clip-b16_vpt1_biolinkbert_patchgastric_16wsi.py']

data_root = 'data/demo/PatchGastric'
max_iters = 60
model = dict(foundation_model='data/demo/tiny-clip-b16',
             neck=dict(in_channels=64, out_channels=96),
             head=dict(text_encoder=dict(pretrained='data/demo/tiny-biolinkbert')))
train_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root, num_wsis=2))
val_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
param_scheduler = [  # CITE's schedule shape (see the schedule base), 5 warm-up iterations
    dict(type='ConstantLR', factor=0.005, by_epoch=False, begin=0, end=5 + 1),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=0., by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
