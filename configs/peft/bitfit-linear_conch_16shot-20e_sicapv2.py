# Seed-notebook matrix, SICAPv2 16-shot: BitFit (all biases) + linear head (no text tower).
_base_ = ['../_base_/models/conch.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[dict(type='BitFit')]), head=_base_.linear_head)
