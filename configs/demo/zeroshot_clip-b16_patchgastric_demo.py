# configs/cite/zeroshot_clip-b16_patchgastric.py on the offline demo assets (the second base).
_base_ = ['../cite/zeroshot_clip-b16_patchgastric.py', './_base_/clip-b16_patchgastric.py']

model = _base_.demo_zeroshot_model
train_dataloader = _base_.demo_train_dataloader
val_dataloader = test_dataloader = _base_.demo_val_dataloader
