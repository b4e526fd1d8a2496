# SICAPv2 (Gleason NC/G3/G4/G5) as downloaded from Mendeley (9xxm58dvs3 v2), few-shot training split.
# There is no separate validation split in partition/Test: validation runs on the official Test.xlsx only at
# the end of training (val_interval = max_epochs); no checkpoint is selected on it.
dataset_type = 'SICAPv2Dataset'
data_root = 'data/SICAPv2'
img_size = 224  # the backbone's input size; PLIP recipe: resize, no centre crop

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='RandomRot90', prob=0.5),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=16,
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
val_evaluator = dict(type='BalancedAccuracy', num_classes=4)
test_dataloader = val_dataloader
test_evaluator = val_evaluator
