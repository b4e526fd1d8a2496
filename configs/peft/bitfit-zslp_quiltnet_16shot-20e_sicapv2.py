# Seed-notebook matrix, SICAPv2 16-shot: BitFit (all biases) + ZS-LP head.
_base_ = ['../_base_/models/quiltnet.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[dict(type='BitFit')]), head=_base_.zslp_head)
