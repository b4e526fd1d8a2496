# PLIP image tower fully fine-tuned + text-embedding head. Adam at 1e-3 (the PEFT schedule) wrecks pretrained
# weights; full fine-tuning uses 1e-5. Checkpoints hold the whole tower (every parameter is trainable).
_base_ = ['./plip_lora_16shot.py']

model = dict(backbone=dict(peft=None))
optim_wrapper = dict(optimizer=dict(lr=1e-5))
