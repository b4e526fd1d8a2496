# Demo overlay (offline assets: `python tools/misc/make_demo_assets.py`): a tiny random open_clip model in the
# CLIP ViT-B/16 token layout and a synthetic SICAPv2 in the real layout. Only paths change. Applied as in
# plip_sicapv2.py.
demo_model = dict(foundation_model='data/demo/tiny-clip-b16')
demo_data_root = 'data/demo/SICAPv2'
demo_data = dict(dataset=dict(data_root=demo_data_root))
