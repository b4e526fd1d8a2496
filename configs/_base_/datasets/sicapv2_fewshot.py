# SICAPv2 (Gleason NC/G3/G4/G5) as downloaded from Mendeley (9xxm58dvs3 v2), few-shot training split.
# There is no separate validation split in partition/Test: validation runs on the official Test.xlsx only at
# the end of training (val_interval = max_epochs); no checkpoint is selected on it.
dataset_type = 'SICAPv2Dataset'
data_root = 'data/SICAPv2'
# The seed notebook trains without augmentation. Images keep their size here: the model base's data preprocessor
# resizes them as the model's own processor does (`image_resize` there), so swapping the model swaps it.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
# The slide id (wsi_id) travels in the data samples for slide-level metrics and prediction files.
test_meta_keys = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'image_name', 'wsi_id')
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs', meta_keys=test_meta_keys),
]
# `tools/test.py --tta`: the 8 symmetries of the square (4 quarter turns x {none, horizontal flip}; tissue has
# no orientation), class probabilities averaged.
tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Rot90', k=k) for k in range(4)],
        [dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='PackInputs', meta_keys=test_meta_keys)],
    ]),
]

# Batch 32: the notebook's loader batch (its training loop ignores the batch_size=16 argument it is given).
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='partition/Test/Train.xlsx',
                 num_shots=16, shot_seed=1, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='partition/Test/Test.xlsx',
                 pipeline=test_pipeline, test_mode=True),
)
# Patch-level and slide-level (mean probability per wsi_id) clinical metrics; Gleason classes are ordered.
val_evaluator = [
    dict(type='ClinicalMetric', num_classes=4, ordinal=True),
    dict(type='WSIMetric', num_classes=4, ordinal=True, aggregate='mean'),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
