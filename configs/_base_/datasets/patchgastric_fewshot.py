# PatchGastric (CITE's 3 adenocarcinoma subtypes) as downloaded: captions.csv + patches_captions/{id}_*.jpg.
# CITE protocol: per class, 80% of the WSIs (seed 0) are held out for evaluation ('test'), the other 20% are
# the few-shot pool ('train'); k-shot = all patches of the k WSIs per class with the most patches.
# split_mode='cite' draws exactly the slides CITE's tools/ann.py holds out ('per_class': scikit-learn's stratified split).
# The split is computed in memory; to pin it in a file, run
#   python tools/dataset_converters/patchgastric_split.py data/PatchGastric
# and set split_file='splits/cite_eval0.8_seed0.csv' (same assignment, now inspectable).
dataset_type = 'PatchGastricDataset'
data_root = 'data/PatchGastric'
split_file = None
# CITE's PatchGastricPipeline (datasets/pipelines.py there): torchvision Resize((224, 224)) on the PIL image
# (bilinear, antialiased as PIL resizes), then always ColorJitter(brightness=0.2, saturation=(0, 0.2), hue=0.1),
# independent horizontal and vertical flips (p=0.5 each) and 0-3 quarter turns, uniform (RandomRot90 with
# prob=0.75 draws k=1..3 uniformly, else 0). Random draws use numpy's RNG (seeded per worker by MMEngine).
img_size = 224
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bilinear', backend='pillow'),
    dict(type='ColorJitter', brightness=0.2, saturation=(0., 0.2), hue=0.1),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRot90', prob=0.75),
    dict(type='PackInputs'),
]
# The slide id (wsi_id) travels in the data samples for slide-level metrics (WSIMetric) and prediction files.
test_meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'wsi_id')
# CITE's test config passes test_mode=False to its pipeline, so it evaluated with random augmentation; the
# deterministic resize + normalisation is used here.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bilinear', backend='pillow'),
    dict(type='PackInputs', meta_keys=test_meta_keys),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    # k WSIs per class have unequal patch counts: draw classes equally often. For plain shuffling use
    # sampler=dict(type='DefaultSampler', shuffle=True).
    sampler=dict(type='ClassBalancedSampler'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', split_file=split_file, eval_ratio=0.8,
                 split_seed=0, split_mode='cite', num_wsis=16, wsi_selection='most_patches',
                 pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', split_file=split_file, eval_ratio=0.8,
                 split_seed=0, split_mode='cite', pipeline=test_pipeline, test_mode=True),
)
# Patch-level and slide-level (mean probability per wsi_id, CITE's WSI accuracy) metrics; the subtypes are
# ordered by differentiation grade.
val_evaluator = [
    dict(type='ClinicalMetric', num_classes=3, ordinal=True),
    dict(type='WSIMetric', num_classes=3, ordinal=True, aggregate='mean'),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
