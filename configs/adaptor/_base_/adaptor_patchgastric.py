# Adaptor (frozen vision encoder + frozen BERT-family text encoder, trainable co-attention fusion) on
# PatchGastric image–caption pairs (each 300 px patch paired with its slide's caption), trained from the
# unimodal cache only. Children set `unimodal.vision`, `unimodal.text` and `model.image_dim/text_dim`, and
# re-link `unimodal` into the datasets (see adaptor_dinov2-b-biolinkbert_20e_patchgastric.py).
#   python tools/extract_unimodal.py CONFIG            (or: torchrun --nproc_per_node 4 ... --launcher pytorch)
#   python tools/train.py CONFIG
#   python tools/analysis/eval_adaptor.py CONFIG work_dirs/NAME/epoch_20.pth
_base_ = ['../../_base_/default_runtime.py']

data_root = 'data/PatchGastric'
img_size = 224
# Pretraining needs most slides: 80% of the WSIs (per class, seeded) train the adaptor, 20% are held out for
# retrieval / zero-shot / few-shot evaluation (WSI-disjoint). CITE's few-shot protocol uses eval_ratio=0.8.
eval_ratio = 0.2
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(img_size, img_size)),
            dict(type='PackInputs')]
source = dict(type='PatchGastricDataset', data_root=data_root, eval_ratio=eval_ratio, split_seed=0,
              split_mode='per_class', pipeline=pipeline)

# The frozen encoders and the cache. Only tools/extract_unimodal.py builds the encoders (and
# tools/analysis/eval_adaptor.py, to encode zero-shot class prompts); training reads the cache.
unimodal = dict(
    vision=dict(),            # e.g. dict(type='HFVisionBackbone', pretrained='facebook/dinov2-base')
    text=dict(),              # e.g. dict(type='HFTextEncoder', pretrained='michiyasunaga/BioLinkBERT-large')
    cache_dir='work_dirs/unimodal_cache',
    patch_tokens=False,       # True: also store (and fuse) the patch tokens, fp16, memory-mapped
    max_length=64,            # caption tokens (padded/truncated)
    shard_size=4096,
)

model = dict(type='AdaptorVL', image_dim=None, text_dim=None, width=256, depth=2, heads=4, embed_dim=256,
             dropout=0.1, fusion='unimodal', mask_same_caption=True)

# Checkpoints are selected on a WSI-disjoint 10% of the *training* slides (`holdout`), never on the held-out
# evaluation slides (`test_dataloader`, used by tools/analysis/eval_adaptor.py); both parts read the train cache.
holdout = dict(fraction=0.1, seed=0)
train_dataloader = dict(
    batch_size=256, num_workers=2, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True), collate_fn=dict(type='default_collate'),
    dataset=dict(type='CachedPairDataset', source=dict(source, split='train'), unimodal=unimodal,
                 holdout=dict(holdout, part='train')))
val_dataloader = dict(
    batch_size=512, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='default_collate'),
    dataset=dict(type='CachedPairDataset', source=dict(source, split='train'), unimodal=unimodal,
                 holdout=dict(holdout, part='val')))
test_dataloader = dict(
    batch_size=512, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='default_collate'),
    dataset=dict(type='CachedPairDataset', source=dict(source, split='test'), unimodal=unimodal))
val_evaluator = dict(type='ImageTextRecall', topk=(1, 5, 10))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
                     paramwise_cfg=dict(custom_keys={'logit_scale': dict(decay_mult=0.)}))
param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
                   dict(type='CosineAnnealingLR', by_epoch=True, begin=1, eta_min=1e-6)]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='mmmedfm.AtomicCheckpointHook', interval=5, max_keep_ckpts=1,
                                     save_best='retrieval/i2t_R@1', rule='greater'))
custom_hooks = []  # not a few-shot run: no support CSV

# tools/analysis/eval_adaptor.py: zero-shot prompts (PatchGastric's class names x CITE's templates, through the
# frozen text encoder then the adaptor text branch) and few-shot linear probes on adapted vs raw features.
evaluation = dict(shots=(1, 2, 4, 8, 16), seeds=(0, 1, 2))
