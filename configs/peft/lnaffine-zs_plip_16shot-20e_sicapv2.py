# PLIP image tower + Affine-LN (the blocks' LayerNorm weight/bias: the notebook's 'layer_norm' rule) + the frozen
# zero-shot text head; otherwise as the headline (lora-zs_plip_16shot-20e_sicapv2.py).
_base_ = ['../_base_/models/plip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[dict(type='LayerNormAffine', scope='blocks')]), head=_base_.zs_head)
