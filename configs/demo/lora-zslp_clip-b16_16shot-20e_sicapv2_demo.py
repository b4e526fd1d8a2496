# configs/peft/lora-zslp_clip-b16_16shot-20e_sicapv2.py on the offline demo assets (the second base).
_base_ = ['../peft/lora-zslp_clip-b16_16shot-20e_sicapv2.py', './_base_/clip-b16_sicapv2.py']

model = _base_.demo_model
data_root = _base_.demo_data_root
train_dataloader = val_dataloader = test_dataloader = _base_.demo_data
