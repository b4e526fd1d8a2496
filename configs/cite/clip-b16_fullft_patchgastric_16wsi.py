# CITE baseline "fine-tune": the whole CLIP ViT-B/16 image tower + a linear classifier (SGD lr 1e-5, CITE's).
# Other k: --cfg-options train_dataloader.dataset.num_wsis=K
_base_ = ['./clip-b16_linearprobe_patchgastric_16wsi.py']

model = dict(backbone=dict(peft=None))
optim_wrapper = dict(optimizer=dict(lr=1e-5))
