# PLIP image tower fully fine-tuned + the frozen zero-shot text head. Adam at 1e-3 (the PEFT schedule) wrecks
# pretrained weights; full fine-tuning uses 1e-5. Checkpoints hold the whole tower (every parameter is trainable).
_base_ = ['../_base_/models/plip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=None), head=_base_.zs_head)
optim_wrapper = dict(optimizer=dict(lr=1e-5))
