# PLIP image tower + Affine-LN (the blocks' LayerNorm weight/bias: the notebook's 'layer_norm' rule) +
# text-embedding head; otherwise as plip_lora_16shot.py (seed notebook 1.5).
_base_ = ['./plip_lora_16shot.py']

model = dict(backbone=dict(peft=[dict(type='LayerNormAffine', scope='blocks')]))
