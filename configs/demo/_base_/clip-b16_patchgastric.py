# Demo overlay (offline assets: `python tools/misc/make_demo_assets.py`): a tiny random open_clip model in the
# CLIP ViT-B/16 token layout (64-d embedding), a 96-d BERT for BioLinkBERT-large, and a synthetic PatchGastric.
# Besides paths and widths only the sizes change: k = 2 WSIs per class, batch 16, 60 iterations with CITE's
# schedule shape (see the schedule base) and 5 warm-up iterations. A demo config inherits [its real config, this
# file] and applies the values (MMEngine refuses a key that two bases both define):
#   model = _base_.demo_model (linear head) / _base_.demo_cite_model / _base_.demo_zeroshot_model
#   data_root = _base_.demo_data_root
#   train_dataloader, val_dataloader, test_dataloader = _base_.demo_dataloaders
#   max_iters, param_scheduler, train_cfg, default_hooks = _base_.demo_schedule        (trained configs)
demo_data_root = 'data/demo/PatchGastric'
demo_weights = 'data/demo/tiny-clip-b16'
demo_zeroshot_model = dict(foundation_model=demo_weights)
demo_model = dict(foundation_model=demo_weights, head=dict(in_channels=64))
# The CITE neck maps the tiny CLIP width to the tiny BERT width (mmmedfm/utils/demo_assets.py).
demo_cite_model = dict(foundation_model=demo_weights, neck=dict(in_channels=64, out_channels=96),
                       head=dict(text_encoder=dict(pretrained='data/demo/tiny-biolinkbert')))
demo_val_dataloader = dict(batch_size=64, dataset=dict(data_root=demo_data_root))
demo_dataloaders = [dict(batch_size=16, dataset=dict(data_root=demo_data_root, num_wsis=2)), demo_val_dataloader,
                    demo_val_dataloader]
demo_max_iters = 60
demo_schedule = [
    demo_max_iters,
    [dict(type='ConstantLR', factor=0.005, by_epoch=False, begin=0, end=5 + 1),
     dict(type='CosineAnnealingLR', T_max=demo_max_iters, eta_min=0., by_epoch=False, begin=0, end=demo_max_iters)],
    dict(max_iters=demo_max_iters, val_interval=demo_max_iters),
    dict(checkpoint=dict(interval=demo_max_iters)),
]
