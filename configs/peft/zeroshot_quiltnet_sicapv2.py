# Seed-notebook matrix, SICAPv2: zero-shot (no training): python tools/test.py THIS_CONFIG
_base_ = ['../_base_/models/quiltnet.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[]), head=_base_.zs_head)
