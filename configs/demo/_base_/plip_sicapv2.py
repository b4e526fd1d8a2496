# Demo overlay (offline assets: `python tools/misc/make_demo_assets.py`): a tiny random-initialised PLIP-format
# checkpoint and a synthetic SICAPv2 in the real layout. Only paths change. A demo config inherits
# [its real config, this file] and applies the values below (MMEngine refuses a key that two bases both define,
# so an overlay cannot name `model` itself):
#   model = _base_.demo_model
#   data_root = _base_.demo_data_root
#   train_dataloader = val_dataloader = test_dataloader = _base_.demo_data
demo_model = dict(foundation_model='data/demo/tiny-plip')
demo_data_root = 'data/demo/SICAPv2'
demo_data = dict(dataset=dict(data_root=demo_data_root))
