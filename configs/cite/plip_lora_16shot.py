# PLIP image tower + LoRA (r=4 on q/k/v, scaling 1) + text-embedding head (PLIP text tower, seed-notebook
# prompt ensemble: 4 templates x SICAPv2 class descriptions), SICAPv2 16 shots per class, seed 1.
# Schedule of the seed notebook: Adam 1e-3, 20 epochs, batch 32, no augmentation. Unlike the notebook's LoRA
# run (configs/peft_matrix/lora_plip_sicapv2.py), the text head stays frozen here (CITE-style).
_base_ = [
    '../_base_/models/plip.py',
    '../_base_/datasets/sicapv2_fewshot.py',
    '../_base_/schedules/adam_20e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(peft=[dict(type='LoRA', rank=4, alpha=4, dropout=0., targets=['q_proj', 'k_proj', 'v_proj'])]),
    head=dict(num_classes=4, prompts=dict(dataset='SICAPv2Dataset')),
)
train_dataloader = dict(dataset=dict(num_shots=16, shot_seed=1))
