# configs/cite/clip-b16_zeroshot_patchgastric.py on the offline demo assets (`python tools/misc/make_demo_assets.py`):
# tiny random open_clip model (ViT-B/16 token layout) + synthetic PatchGastric; chance-level by construction.
#   python tools/test.py configs/demo/clip-b16_zeroshot_patchgastric_demo.py
_base_ = ['../cite/clip-b16_zeroshot_patchgastric.py']

data_root = 'data/demo/PatchGastric'
model = dict(foundation_model='data/demo/tiny-clip-b16')
train_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root, num_wsis=2))
val_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
