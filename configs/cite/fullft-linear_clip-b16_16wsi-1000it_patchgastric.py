# CITE baseline "fine-tune": the whole CLIP ViT-B/16 image tower + a linear classifier (SGD lr 1e-5, CITE's).
# Other k: --cfg-options train_dataloader.dataset.num_wsis=K
_base_ = ['./linearprobe_clip-b16_16wsi-1000it_patchgastric.py']

model = dict(backbone=dict(peft=None))
optim_wrapper = dict(optimizer=dict(lr=1e-5))
