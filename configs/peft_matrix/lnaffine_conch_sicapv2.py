# Seed-notebook matrix, SICAPv2 16-shot: Affine-LN (LayerNorm weights/biases) + linear head (no text tower).
_base_ = ['../_base_/models/conch.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[dict(type='LayerNormAffine')]), head=_base_.linear_head)
