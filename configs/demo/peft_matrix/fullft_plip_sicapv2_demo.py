# configs/peft_matrix/fullft_plip_sicapv2.py on the offline demo assets (`python tools/misc/make_demo_assets.py`):
# a tiny random PLIP-format checkpoint + synthetic SICAPv2. Only paths change.
_base_ = ['../../peft_matrix/fullft_plip_sicapv2.py']

data_root = 'data/demo/SICAPv2'
model = dict(foundation_model='data/demo/tiny-plip')
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
