"""Helpers shared by tests: run the CLI tools in-process; synthetic few-shot tasks on cached features."""
import functools
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmmedfm.utils.synthetic_features import make_synthetic_features

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# --cfg-options that switch off the evaluation figures of the demo configs' metrics (4 PNGs per evaluation,
# ~1 s): tests of something else set them (conftest's demo_cfg_options does); tests/test_evaluation checks them.
NO_FIGURES = {f'{split}_evaluator.{i}.save_figures': False for split in ('val', 'test') for i in (0, 1)}


def load_tool(rel_path: str):
    """Import ``tools/...py`` as a module (tools are scripts, not a package)."""
    path = osp.join(ROOT, rel_path)
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0] + '_tool', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cli_options(opts: dict):
    """``{'a.b': 1}`` -> ``['a.b=1']`` for ``--cfg-options``."""
    return [f'{k}={list(v) if isinstance(v, tuple) else v}'.replace(' ', '') for k, v in opts.items()]


@pytest.fixture
def one_torch_thread():
    """One torch thread for this test: tiny matrices, and no oversubscription on shared CPUs."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@functools.lru_cache(maxsize=None)
def synthetic_task(seed: int, shots: int, num_classes: int = 5, dim: int = 64, cone: float = 2.5,
                   noise: float = 1.3, text_noise: float = 1.):
    """A structured few-shot task on CLIP-like cached features (class clusters in a cone of mean pairwise cosine
    about 0.5, zero-shot accuracy about 0.6), cached per ``(seed, shots)``.

    Returns ``dict(support=(x, y), val=(x, y), val_k=(x, y), test=(x, y), zs=(C, D), raw=(C, D))``: ``shots``
    support shots per class; the releases' extra few-shot validation sets, ``min(shots, 4)`` (CoOp/Tip-Adapter
    datasets) and ``shots`` (LP++) shots per class, disjoint from the support; a fixed test set of 100 per class;
    the raw "text" anchors (mean of 4 template embeddings of norm 7-10, CLIP-like) and the zero-shot prototypes
    (their normalised template mean).
    """
    kw = dict(num_classes=num_classes, dim=dim, noise=noise, text_noise=text_noise, means_seed=0, cone=cone)
    pool, text = make_synthetic_features(per_class=32, seed=100 + seed, **kw)
    test, _ = make_synthetic_features(per_class=100, seed=7, split='test', **kw)
    g = torch.Generator().manual_seed(seed)
    sup, val, val_k = [], [], []
    for c in range(num_classes):
        idx = (pool.labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        sup.append(idx[:shots])
        val.append(idx[16:16 + min(shots, 4)])
        val_k.append(idx[16:16 + shots])
    templates = F.normalize(text[:, None] + 0.3 * torch.randn(num_classes, 4, dim, generator=g) / dim ** 0.5, dim=-1)
    templates = templates * (7 + 3 * torch.rand(num_classes, 4, 1, generator=g))
    x, y = pool.features, pool.labels
    pick = lambda idx: (x[torch.cat(idx)], y[torch.cat(idx)])  # noqa: E731
    return dict(support=pick(sup), val=pick(val), val_k=pick(val_k), test=(test.features, test.labels),
                zs=F.normalize(F.normalize(templates, dim=-1).mean(1), dim=-1), raw=templates.mean(1))
