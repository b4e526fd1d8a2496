# The seed notebook's PEFT schedule: Adam, lr 1e-3, 20 epochs (batch size is set by the dataset base).
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.))

train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=20)
val_cfg = dict()
test_cfg = dict()

# Scale the lr linearly when the total batch size differs (`--auto-scale-lr`).
auto_scale_lr = dict(base_batch_size=32)
