# CITE baseline "VPT": CLIP ViT-B/16 + shallow VPT (1 token) + a linear classifier, no text (SGD lr 1e-2, CITE's).
# The difference to CITE is the head alone. Other k: --cfg-options train_dataloader.dataset.num_wsis=K
_base_ = ['./clip-b16_linearprobe_patchgastric_16wsi.py']

model = dict(backbone=dict(peft=[dict(type='VisualPromptTuning', num_tokens=1, deep=False, init='uniform')]))
optim_wrapper = dict(optimizer=dict(lr=1e-2))
