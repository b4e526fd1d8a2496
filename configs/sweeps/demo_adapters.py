# Black-box adapters x {1,2,4,8,16} shots x 5 seeds on the offline demo (tiny PLIP-format model, synthetic
# SICAPv2): `python tools/sweep.py configs/sweeps/demo_adapters.py && python tools/analysis/report.py
# work_dirs/sweeps/demo_adapters/results.jsonl`. Image features are extracted once (cached); every cell then fits
# an adapter on the cached support features. Schedules are the methods' own except the
# epochs, shortened for the demo (paper values: ZS-LP/CLIP-Adapter 100, LP++/CLAP 300, CoOp 50-200).
backbones = [dict(name='tiny-plip', config='configs/demo/plip_lora_16shot_demo.py')]
dataset = 'SICAPv2-demo'
feature_cache = 'work_dirs/feature_cache'
out_dir = 'work_dirs/sweeps/demo_adapters'
shots = [1, 2, 4, 8, 16]
seeds = [1, 2, 3, 4, 5]
num_threads = 1  # adapters on cached features are tiny matrices: one thread per sweep is fastest on CPU

methods = [
    dict(name='Zero-shot', adapter=dict(type='ZeroShotAdapter')),
    dict(name='LP', adapter=dict(type='LinearProbe', C_grid=[1., 10., 100.], max_iter=100)),
    dict(name='ZS-LP', adapter=dict(type='ZSLinearProbe', epochs=50)),
    dict(name='LP++', adapter=dict(type='LPPlusPlus', epochs=100)),
    dict(name='CLIP-Adapter', adapter=dict(type='CLIPAdapter', epochs=50)),
    dict(name='Tip-Adapter', adapter=dict(type='TipAdapter')),
    dict(name='Tip-Adapter-F', adapter=dict(type='TipAdapterF')),
    dict(name='CLAP', adapter=dict(type='CLAP', epochs=100)),
    # CoOp needs the text tower in the loop (its `pretrained` is the backbone's foundation_model); demo: 10 epochs.
    dict(name='CoOp', adapter=dict(type='CoOp', text_encoder=dict(type='HFCLIPText'), n_ctx=4, epochs=10)),
    # A PEFT/CITE method runs as full `tools/train.py` runs (one per cell; `gpus = [0, 1]` runs them in parallel):
    # dict(name='LoRA+ZS-LP', train_config='configs/demo/plip_lora_16shot_demo.py'),
]
gpus = []
