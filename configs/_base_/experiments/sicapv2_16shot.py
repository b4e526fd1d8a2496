# The seed notebook's SICAPv2 experiment without the model: 16 shots per class (seed 1), Adam 1e-3, 20 epochs,
# batch 32, no augmentation, the model's own resize; balanced accuracy + confusion matrix (ClinicalMetric) and slide-level metrics. Combine with one model
# base (configs/peft/*.py): the model base is the only `_base_` that defines `model`, so matrix configs
# set the head from the variables below.
_base_ = ['../datasets/sicapv2_fewshot.py', '../schedules/adam_20e.py', '../default_runtime.py']

# Zero-shot head settings (prompt ensemble of the notebook: 4 templates x class descriptions, frozen).
zs_head = dict(num_classes=4, prompts=dict(dataset='SICAPv2Dataset'))
# ZS-LP head of the notebook (section 1.5): the same prototypes, trained (used by every PEFT method there).
zslp_head = dict(num_classes=4, prompts=dict(dataset='SICAPv2Dataset'), trainable_embeddings=True)
# Models without a text tower (CONCH here): a linear classifier on the 512-d image embedding.
linear_head = dict(type='LinearClsHead', num_classes=4, in_channels=512)
