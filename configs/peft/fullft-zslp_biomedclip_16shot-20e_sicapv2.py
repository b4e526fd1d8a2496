# Seed-notebook matrix, SICAPv2 16-shot: full fine-tuning + ZS-LP head (lr 1e-5: 1e-3 wrecks pretrained weights).
_base_ = ['../_base_/models/biomedclip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=None), head=_base_.zslp_head)
optim_wrapper = dict(optimizer=dict(lr=1e-5))
