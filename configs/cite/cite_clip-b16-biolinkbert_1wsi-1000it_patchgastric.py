# CITE on PatchGastric, 1 WSI(s) per class (all their patches). See configs/cite/README.md.
_base_ = ['../_base_/experiments/cite_patchgastric.py']

train_dataloader = dict(dataset=dict(num_wsis=1))
