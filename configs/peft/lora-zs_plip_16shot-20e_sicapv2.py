# The headline: PLIP image tower + LoRA (r=4 on q/k/v, scaling 1; the model base's `lora_qkv`) + the frozen
# zero-shot text head (PLIP text tower, seed-notebook prompt ensemble: 4 templates x SICAPv2 class descriptions),
# SICAPv2 16 shots per class (seed 1); seed-notebook schedule: Adam 1e-3, 20 epochs, batch 32, no augmentation.
# It differs from the notebook's LoRA run (lora-zslp_plip_16shot-20e_sicapv2.py) in the head alone: the text head
# stays frozen here (CITE-style). Swapping the model `_base_` line (quiltnet.py, biomedclip.py, clip_vit_b16.py)
# swaps the LoRA targets too. Also reachable as configs/cite/plip_lora_16shot.py.
_base_ = ['../_base_/models/plip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[_base_.lora_qkv]), head=_base_.zs_head)
