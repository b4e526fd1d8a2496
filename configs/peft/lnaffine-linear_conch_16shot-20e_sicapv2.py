# Seed-notebook matrix, SICAPv2 16-shot: Affine-LN (LayerNorms inside the blocks) + linear head (no text tower).
_base_ = ['../_base_/models/conch.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[dict(type='LayerNormAffine', scope='blocks')]), head=_base_.linear_head)
