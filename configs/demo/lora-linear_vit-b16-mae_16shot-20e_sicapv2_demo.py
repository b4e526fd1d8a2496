# configs/openmmlab/lora-linear_vit-b16-mae_16shot-20e_sicapv2.py on the offline demo data
# (`python tools/misc/make_demo_assets.py`): a toy-width ViT (random init, no download) through the same
# mmpretrain classes, and the synthetic SICAPv2.
_base_ = ['../openmmlab/lora-linear_vit-b16-mae_16shot-20e_sicapv2.py']

data_root = 'data/demo/SICAPv2'
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64), init_cfg=None),
    head=dict(in_channels=32),
)
train_cfg = dict(max_epochs=2, val_interval=2)
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
