# Black-box adapters x {1,2,4,8,16} shots x 5 seeds on the offline demo (tiny PLIP-format model, synthetic
# SICAPv2): `python tools/sweep.py configs/sweeps/demo_adapters.py && python tools/analysis/report.py
# work_dirs/sweeps/demo_adapters/results.jsonl`. Image features are extracted once (cached); every cell then fits
# an adapter on the cached support features. Schedules are the methods' own except the
# epochs, shortened for the demo (paper values: CLAP/ZS-LP/CLIP-Adapter/LP++ 300).
backbones = [dict(name='tiny-plip', config='configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py')]
dataset = 'SICAPv2-demo'
feature_cache = 'work_dirs/feature_cache'
out_dir = 'work_dirs/sweeps/demo_adapters'
shots = [1, 2, 4, 8, 16]
seeds = [1, 2, 3, 4, 5]
num_threads = 1  # adapters on cached features are tiny matrices: one thread per sweep is fastest on CPU

# ZS-LP and CLAP share one schedule (CLAP's: SGD lr 0.1, batch 256, cosine, 1 warm-up epoch at 1e-5), as the
# CLAP paper compares them; only the epochs are shortened for the demo (paper 300).
clap_schedule = dict(epochs=100, lr=0.1, batch_size=256, cosine=True, warmup_epochs=1, warmup_lr=1e-5)
methods = [
    dict(name='Zero-shot', adapter=dict(type='ZeroShotAdapter')),
    dict(name='LP', adapter=dict(type='LinearProbe', C_grid=[1., 10., 100.], max_iter=100)),
    dict(name='ZS-LP', adapter=dict(type='ZSLinearProbe', **clap_schedule)),
    dict(name='CLAP', adapter=dict(type='CLAP', **clap_schedule)),
    dict(name='LP++', adapter=dict(type='LPPlusPlus', epochs=100)),
    dict(name='CLIP-Adapter', adapter=dict(type='CLIPAdapter', epochs=100)),
    dict(name='Tip-Adapter', adapter=dict(type='TipAdapter')),
    dict(name='Tip-Adapter-F', adapter=dict(type='TipAdapterF')),
    # CoOp needs the text tower in the loop (its `pretrained` is the backbone's foundation_model); its class words
    # are the zero-shot prompts' descriptions; epochs by shots (50/100/200) as in CoOp.
    dict(name='CoOp', adapter=dict(type='CoOp', text_encoder=dict(type='HFCLIPText'), n_ctx=4)),
    # A PEFT/CITE method runs as full `tools/train.py` runs (one per cell; `gpus = [0, 1]` runs them in parallel):
    # dict(name='LoRA+ZS-LP', train_config='configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'),
]
gpus = []
