# configs/peft_matrix/lnaffine_clip_sicapv2.py on the offline demo assets (`python tools/misc/make_demo_assets.py`):
# a tiny random open_clip model (ViT-B/16 token layout) + synthetic SICAPv2. Only paths change.
_base_ = ['../../peft_matrix/lnaffine_clip_sicapv2.py']

data_root = 'data/demo/SICAPv2'
model = dict(foundation_model='data/demo/tiny-clip-b16')
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
