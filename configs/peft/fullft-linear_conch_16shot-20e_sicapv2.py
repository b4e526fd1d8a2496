# Seed-notebook matrix, SICAPv2 16-shot: full fine-tuning + linear head (CONCH has no text tower here);
# lr 1e-5 (1e-3 wrecks pretrained weights).
_base_ = ['../_base_/models/conch.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=None), head=_base_.linear_head)
optim_wrapper = dict(optimizer=dict(lr=1e-5))
