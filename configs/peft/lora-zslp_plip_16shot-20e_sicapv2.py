# Seed-notebook matrix, SICAPv2 16-shot: LoRA r=4 on q/k/v (the model base's `lora_qkv`) + ZS-LP head.
_base_ = ['../_base_/models/plip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[_base_.lora_qkv]), head=_base_.zslp_head)
