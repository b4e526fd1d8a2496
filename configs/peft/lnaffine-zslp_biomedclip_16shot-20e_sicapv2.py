# Seed-notebook matrix, SICAPv2 16-shot: Affine-LN (LayerNorms inside the blocks, notebook rule) + ZS-LP head.
_base_ = ['../_base_/models/biomedclip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[dict(type='LayerNormAffine', scope='blocks')]), head=_base_.zslp_head)
