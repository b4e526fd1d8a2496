# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Few-shot pathology classification with mmmedfm: zero-shot -> adapters -> LoRA -> evaluation
#
# A runnable tour on the **offline demo assets** (a tiny random PLIP-format model and a synthetic SICAPv2 in
# the real layout), so every cell runs on a laptop CPU in a couple of minutes. The numbers say nothing about
# the methods (random weights, synthetic tiles); with real weights and data only the config paths change.
#
# Open it as a notebook with `jupytext --to notebook docs/tutorial.py` (or Jupyter's jupytext extension), or
# run it as a script: `python docs/tutorial.py`. Outputs (figures, checkpoints, caches) go to
# `work_dirs/tutorial/` (`TUTORIAL_WORK_DIR` to change it).

# %%
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(globals().get('__file__', osp.join(os.getcwd(), 'docs', 'x')))))
sys.path.insert(0, ROOT)
os.chdir(ROOT)
WORK = os.environ.get('TUTORIAL_WORK_DIR', osp.join('work_dirs', 'tutorial'))
FAST = os.environ.get('TUTORIAL_FAST', '0') == '1'  # the test runs the tutorial with fewer epochs
os.makedirs(WORK, exist_ok=True)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mmmedfm.utils import register_all_modules  # noqa: E402
from mmmedfm.utils.demo_assets import make_demo_assets  # noqa: E402

register_all_modules()
assets = make_demo_assets('data/demo')  # built once, then reused
print({k: v for k, v in assets.items() if k in ('model', 'sicapv2')})

# %% [markdown]
# ## 1. Zero-shot: prompts in, classifier out
#
# The zero-shot config names the foundation model and the class prompts (templates x class descriptions, from
# `SICAPv2Dataset.METAINFO`). `zero_shot_classifier` encodes them once (cached) into one unit vector per class;
# image features come from the frozen image tower through the config's test pipeline (cached too).

# %%
from mmmedfm.apis import extract_features, zero_shot_classifier  # noqa: E402
from mmmedfm.evaluation import classification_metrics  # noqa: E402
from mmmedfm.utils.cli import read_config  # noqa: E402

cfg = read_config('configs/demo/zeroshot_plip_sicapv2_demo.py', {
    'model.head.cache_dir': osp.join(WORK, 'text_cache'),
    # the whole few-shot pool (supports are drawn from it below), without training augmentation
    'train_dataloader.dataset.num_shots': None,
})
cfg.train_dataloader.dataset.pipeline = cfg.test_dataloader.dataset.pipeline
zs_weights, logit_scale = zero_shot_classifier(cfg)
pool = extract_features(cfg, 'train', cache_dir=osp.join(WORK, 'features'), progress=False)
test = extract_features(cfg, 'test', cache_dir=osp.join(WORK, 'features'), progress=False)
classes = test.classes
zs_probs = torch.softmax(logit_scale * test.features @ zs_weights.T, -1).numpy()
zs = classification_metrics(test.labels.numpy(), zs_probs, len(classes))
print(f'{len(pool.labels)} pool / {len(test.labels)} test images, classes {classes}')
print(f"zero-shot balanced accuracy: {100 * zs['balanced_accuracy']:.1f}%")

# %% [markdown]
# ## 2. Black-box adapters on cached features
#
# Adapters never touch the image tower: they fit on the cached, L2-normalised features of a k-shot support
# (drawn like the datasets draw it: seeded, nested over k) and start from the zero-shot prototypes where the
# method says so. Every adapter has the same API: `fit((x, y), zs_weights, logit_scale)` then
# `predict_proba(x)`.

# %%
from mmmedfm.datasets.few_shot import sample_few_shot  # noqa: E402
from mmmedfm.registry import MODELS  # noqa: E402


def support(k, seed):
    items = [dict(gt_label=int(y), index=i) for i, y in enumerate(pool.labels.tolist())]
    idx = [d['index'] for d in sample_few_shot(items, k, seed, classes)]
    return pool.features[idx], pool.labels[idx]


methods = ['ZSLinearProbe', 'CLAP', 'TipAdapter', 'LinearProbe']
shots = [1, 4, 16]
results = {m: [] for m in methods}
for method in methods:
    for k in shots:
        adapter = MODELS.build(dict(type=method, seed=1))
        adapter.fit(support(k, seed=1), zs_weights, logit_scale, class_names=classes)
        probs = adapter.predict_proba(test.features)
        probs = probs.numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs)
        results[method].append(100 * classification_metrics(test.labels.numpy(), probs, len(classes))
                               ['balanced_accuracy'])
for method, accs in results.items():
    print(f'{method:>14}: ' + '  '.join(f'{k}-shot {a:5.1f}' for k, a in zip(shots, accs)))

fig = Figure(figsize=(5, 3.5), layout='constrained')
ax = fig.subplots()
for method, accs in results.items():
    ax.plot(shots, accs, marker='o', label=method)
ax.axhline(100 * zs['balanced_accuracy'], color='grey', ls='--', label='zero-shot')
ax.set(xscale='log', xticks=shots, xticklabels=shots, xlabel='shots per class', ylabel='balanced accuracy (%)',
       title='Adapters on cached features (demo)')
ax.legend(fontsize=7)
fig.savefig(osp.join(WORK, 'adapters_vs_shots.png'), dpi=100)
fig  # noqa: B018 -- shown inline in a notebook

# %% [markdown]
# ## 3. LoRA: fine-tune the image tower
#
# PEFT is one config entry applied when the model is built (`model.backbone.peft=[dict(type='LoRA', ...)]`);
# `configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py` is the headline recipe (LoRA r=4 on q/k/v + the frozen text head) on
# the demo assets. `tools/train.py` is MMEngine's Runner with our hooks: the checkpoint holds only the LoRA
# tensors (`MergeLoRAHook` would fold them into the base weights at the end; see `default_runtime.py`).

# %%
import importlib.util  # noqa: E402


def load_tool(path):
    """Import a ``tools/*.py`` script as a module (what ``python tools/train.py ...`` runs)."""
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lora_dir = osp.join(WORK, 'lora')
epochs = 2 if FAST else 20
train_args = ['configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py', '--work-dir', lora_dir, '--force', '--cfg-options',
              f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
              f"model.head.cache_dir={osp.join(WORK, 'text_cache')}",
              'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0']
runner = load_tool('tools/train.py').main(train_args)
ckpt = osp.join(lora_dir, f'epoch_{epochs}.pth')
print('trainable-only checkpoint:', ckpt, f'{osp.getsize(ckpt) / 1e3:.0f} kB')

# %% [markdown]
# ## 4. Evaluation: metrics, confusion matrix, calibration
#
# `tools/test.py` prints the clinical metrics (patch- and slide-level) and writes the confusion matrices and
# reliability diagrams; here we use the Python API on the same checkpoint: class probabilities per test image,
# then the metrics, a confusion matrix and temperature scaling.

# %%
from mmmedfm.apis import infer_split, init_model  # noqa: E402
from mmmedfm.evaluation import apply_temperature, fit_temperature  # noqa: E402
from mmmedfm.evaluation.functional import confusion  # noqa: E402
from mmmedfm.evaluation.plots import save_confusion_matrix, save_reliability_comparison  # noqa: E402

model = init_model('configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py', ckpt, 'cpu',
                   {'model.head.cache_dir': osp.join(WORK, 'text_cache')})
logits, labels, _ = infer_split(model, 'test', progress=False)
lora = classification_metrics(labels, apply_temperature(logits, 1.), len(classes))
print(f"LoRA ({epochs} epochs) balanced accuracy: {100 * lora['balanced_accuracy']:.1f}%   "
      f"zero-shot: {100 * zs['balanced_accuracy']:.1f}%")
cm = confusion(labels, logits.argmax(1), len(classes))
save_confusion_matrix(cm, classes, osp.join(WORK, 'lora_confusion_matrix.png'))
print(cm)

# Temperature scaling: fitted here on the test split itself for illustration only (use a held-out split, as
# tools/analysis/calibrate.py --calib-ann-file does); accuracy is unchanged, ECE/NLL move.
t = fit_temperature(logits, labels)
after = classification_metrics(labels, apply_temperature(logits, t), len(classes))
print(f"T = {t:.3f}: ECE {lora['ece']:.3f} -> {after['ece']:.3f}, NLL {lora['nll']:.3f} -> {after['nll']:.3f}")
save_reliability_comparison({'before': apply_temperature(logits, 1.), f'after (T = {t:.2f})':
                             apply_temperature(logits, t)}, labels, osp.join(WORK, 'lora_reliability.png'))
print('figures in', WORK, sorted(f for f in os.listdir(WORK) if f.endswith('.png')))

# %% [markdown]
# ## Where next
#
# - Real weights and data: `README.md` ("Weights", "Data", "Your own data and classes").
# - Sweeps over methods x shots x seeds with a report: `python tools/sweep.py configs/sweeps/demo_adapters.py`.
# - Other PEFT methods and backbones: `configs/peft/` (one `_base_` line per backbone; names in `configs/README.md`).
