# The CITE paper setting on PatchGastric (3 adenocarcinoma subtypes): CLIP ViT-B/16 + VPT (1 token) + projection
# neck 512->1024 + BioLinkBERT-large class-name head; k WSIs per class with the most patches (set
# train_dataloader.dataset.num_wsis), class-balanced batches of 128, SGD lr 0.03, 1000 iterations cosine with constant warm-up,
# 224 px. Evaluation on the held-out 80% of the slides: patch accuracy, per-class accuracy (recall_{class}),
# balanced accuracy, and WSI-level accuracy (mean softmax over each slide's patches, `wsi/...`).
_base_ = [
    '../models/cite_clip_vit_b16_biolinkbert.py',
    '../datasets/patchgastric_fewshot.py',
    '../schedules/sgd_1000it_cosine.py',
    '../default_runtime.py',
]

# Class names as text, no template (CITE encodes the raw class name).
model = dict(head=dict(num_classes=3, prompts=dict(dataset='PatchGastricDataset', templates=['[CLS]'])))

# Iteration-based runtime: checkpoint at the end, log by iteration.
default_hooks = dict(checkpoint=dict(by_epoch=False, interval={{_base_.max_iters}}))
log_processor = dict(by_epoch=False)

# CITE's patch_balance: classes in turn (0, 1, 2, 0, ...), each walking its own shuffled patches.
train_dataloader = dict(batch_size=128, sampler=dict(type='ClassBalancedSampler', round_robin=True),
                        dataset=dict(num_wsis=16, wsi_selection='most_patches'))

# CITE's lr (its method config overrides the schedule base's 1e-3): SGD 0.03.
optim_wrapper = dict(optimizer=dict(lr=0.03))
