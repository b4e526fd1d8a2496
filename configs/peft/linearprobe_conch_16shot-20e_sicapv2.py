# Seed-notebook matrix, SICAPv2 16-shot, CONCH: linear probe (frozen tower). CONCH has no text tower here, so
# zero-shot and ZS-LP are not available; its PEFT configs use this linear head instead of ZS-LP.
_base_ = ['../_base_/models/conch.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[]), head=_base_.linear_head)
