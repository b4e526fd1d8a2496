# configs/cite/fullft-linear_clip-b16_16wsi-1000it_patchgastric.py on the offline demo assets (the second base).
_base_ = ['../cite/fullft-linear_clip-b16_16wsi-1000it_patchgastric.py', './_base_/clip-b16_patchgastric.py']

model = _base_.demo_model
data_root = _base_.demo_data_root
train_dataloader, val_dataloader, test_dataloader = _base_.demo_dataloaders
max_iters, param_scheduler, train_cfg, default_hooks = _base_.demo_schedule
