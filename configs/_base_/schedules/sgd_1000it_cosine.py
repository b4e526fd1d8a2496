# CITE's schedule: SGD lr 1e-3 (no momentum, no weight decay), 1000 iterations, cosine to 0 after a 20-iteration
# warm-up from 0.005 x lr (CITE held the lr constant at 0.005 x lr during warm-up; a linear ramp is used here),
# total batch 128. Iteration-based: experiments also set
#   default_hooks = dict(checkpoint=dict(by_epoch=False, interval=1000)); log_processor = dict(by_epoch=False)
max_iters = 1000
warmup_iters = 20
optim_wrapper = dict(optimizer=dict(type='SGD', lr=1e-3, momentum=0., weight_decay=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.005, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=0., by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()

# Scale the lr linearly when the total batch size differs (`--auto-scale-lr`).
auto_scale_lr = dict(base_batch_size=128)
