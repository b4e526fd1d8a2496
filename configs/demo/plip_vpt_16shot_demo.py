# configs/cite/plip_vpt_16shot.py on the offline demo assets (`python tools/misc/make_demo_assets.py`): a tiny
# random-initialised PLIP-format checkpoint and a synthetic SICAPv2 in the real layout. Only paths change.
_base_ = ['../cite/plip_vpt_16shot.py']

data_root = 'data/demo/SICAPv2'
model = dict(foundation_model='data/demo/tiny-plip')
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
