# PLIP image tower + LoRA (r=4 on q/k/v, scaling 1; the model base's `lora_qkv`) + text-embedding head (PLIP text tower, seed-notebook
# prompt ensemble: 4 templates x SICAPv2 class descriptions), SICAPv2 16 shots per class, seed 1.
# Schedule of the seed notebook: Adam 1e-3, 20 epochs, batch 16.
_base_ = [
    '../_base_/models/plip.py',
    '../_base_/datasets/sicapv2_fewshot.py',
    '../_base_/schedules/adam_20e.py',
    '../_base_/default_runtime.py',
]

# LoRA targets come from the model base (`lora_qkv`: q/k/v of this tower family), so swapping the model
# `_base_` line (quiltnet.py, biomedclip.py, clip_vit_b16.py) swaps the targets too.
model = dict(
    backbone=dict(peft=[_base_.lora_qkv]),
    head=dict(num_classes=4, prompts=dict(dataset='SICAPv2Dataset')),
)
train_dataloader = dict(dataset=dict(num_shots=16, shot_seed=1))
