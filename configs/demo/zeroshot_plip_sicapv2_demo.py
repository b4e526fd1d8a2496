# Zero-shot on the offline demo assets (`python tools/misc/make_demo_assets.py`): tiny random PLIP-format
# checkpoint + synthetic SICAPv2. Only paths change; numbers are chance-level by construction.
#   python tools/test.py configs/demo/zeroshot_plip_sicapv2_demo.py
_base_ = ['../zeroshot/plip_sicapv2.py']

data_root = 'data/demo/SICAPv2'
model = dict(foundation_model='data/demo/tiny-plip')
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
