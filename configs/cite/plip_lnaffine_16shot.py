# PLIP image tower + Affine-LN (LayerNorm weight/bias trainable) + text-embedding head; otherwise as
# plip_lora_16shot.py (seed notebook 1.5).
_base_ = ['./plip_lora_16shot.py']

model = dict(backbone=dict(peft=[dict(type='LayerNormAffine')]))
