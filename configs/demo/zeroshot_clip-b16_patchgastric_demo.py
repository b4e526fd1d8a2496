# configs/cite/zeroshot_clip-b16_patchgastric.py on the offline demo assets (the second base).
_base_ = ['../cite/zeroshot_clip-b16_patchgastric.py', './_base_/clip-b16_patchgastric.py']

model = _base_.demo_zeroshot_model
data_root = _base_.demo_data_root
train_dataloader, val_dataloader, test_dataloader = _base_.demo_dataloaders
