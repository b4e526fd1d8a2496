# CITE baseline "VPT": CLIP ViT-B/16 + shallow VPT (1 token) + a linear classifier, no text (SGD lr 1e-2, CITE's).
# The difference to CITE is the head alone. Other k: --cfg-options train_dataloader.dataset.num_wsis=K
_base_ = ['./linearprobe_clip-b16_16wsi-1000it_patchgastric.py']

# CITE's PromptedCLIPImageBackbone default prompt_init='normal' (std 0.02) for this baseline.
model = dict(backbone=dict(peft=[dict(type='VisualPromptTuning', num_tokens=1, deep=False, init='normal')]))
optim_wrapper = dict(optimizer=dict(lr=1e-2))
