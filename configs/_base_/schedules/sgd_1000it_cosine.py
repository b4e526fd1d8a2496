# CITE's schedule (configs/gastric/_base_/sgd_i1000_lr0.001-cos.py there, read with mmcv 1.x's LrUpdaterHook):
# SGD (no momentum, no weight decay), 1000 iterations, cosine from lr to 0 over all 1000 iterations, and during
# the first 20 iterations the lr is 0.005 x the cosine value (mmcv's 'constant' warm-up). lr(i) =
# lr * (1 + cos(pi * i / 1000)) / 2 * (0.005 if i < 20 else 1). Base lr 1e-3 as there; CITE's method config
# overrides it to 0.03, its baselines to 1e-2 / 1e-5. Total batch 128. Iteration-based: experiments also set
#   default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1000)); log_processor = dict(by_epoch=False)
max_iters = 1000
warmup_iters = 20
optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-3, momentum=0., weight_decay=0.))
# Both schedulers act on the same lr from iteration 0; the cosine's recursive form with eta_min=0 is a ratio, so
# the product is exactly mmcv's warm-up x cosine (pinned in tests/test_configs/test_cite_schedule.py).
# MMEngine's ConstantLR restores the lr at its step `end - 1`: end=warmup_iters + 1 keeps iterations 0..19 low.
param_scheduler = [
    dict(type='ConstantLR', factor=0.005, by_epoch=False, begin=0, end=warmup_iters + 1),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=0., by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()

# Scale the lr linearly when the total batch size differs (`--auto-scale-lr`).
auto_scale_lr = dict(base_batch_size=128)
