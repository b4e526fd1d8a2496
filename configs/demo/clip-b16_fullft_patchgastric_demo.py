# configs/cite/clip-b16_fullft_patchgastric_16wsi.py on the offline demo assets
# (`python tools/misc/make_demo_assets.py`): a tiny random open_clip model in the ViT-B/16 token layout (64-d
# embedding) for CLIP ViT-B-16 and a synthetic PatchGastric. Besides paths and widths only the sizes change:
# k = 2 WSIs per class, batch 16, 60 iterations.
_base_ = ['../cite/clip-b16_fullft_patchgastric_16wsi.py']

data_root = 'data/demo/PatchGastric'
max_iters = 60
model = dict(foundation_model='data/demo/tiny-clip-b16', head=dict(in_channels=64))
train_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root, num_wsis=2))
val_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
param_scheduler = [  # CITE's schedule shape (see the schedule base), 5 warm-up iterations
    dict(type='ConstantLR', factor=0.005, by_epoch=False, begin=0, end=5 + 1),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=0., by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
