# Seed-notebook matrix, SICAPv2 16-shot: ZS-linear-probe (frozen tower, prototypes initialised from the text).
_base_ = ['../_base_/models/plip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[]), head=_base_.zslp_head)
