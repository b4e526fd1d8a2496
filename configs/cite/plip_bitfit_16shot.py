# PLIP image tower + BitFit (all biases trainable) + text-embedding head; otherwise as plip_lora_16shot.py
# (seed notebook 1.5: Adam 1e-3, 20 epochs, batch 32, SICAPv2 16 shots per class, seed 1).
_base_ = ['./plip_lora_16shot.py']

model = dict(backbone=dict(peft=[dict(type='BitFit')]))
