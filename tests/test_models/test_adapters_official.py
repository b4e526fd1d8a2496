"""Our adapters against ports of their official protocols on a structured synthetic task (k = 1/4/16, 3 seeds).

Task: 5 classes, 512-d unit-sphere features, zero-shot accuracy about 0.58; raw "text" anchors are the mean of 4
template embeddings of norm 7-10 (CLIP-like), the zero-shot prototypes their normalised template mean. Ours
runs as the sweep does (support set only, no extra labels) and, for the methods that search, also with the
release's extra validation set; the official protocols get what their releases use (an extra few-shot
validation set of ``min(k, 4)`` shots per class where they search). Mean accuracies over the seeds must agree
within 3 points; CLAP at 1 shot must stay within 3 points of zero-shot.
"""
import pytest
import torch
import torch.nn.functional as F

from mmmedfm.models.adapters import (CLAP, CLIPAdapter, LinearProbe, LPPlusPlus, TipAdapter, TipAdapterF,
                                     ZSLinearProbe)
from mmmedfm.utils.synthetic_features import make_synthetic_features
from . import official_ports as official

SCALE = 100.
SHOTS = (1, 4, 16)
SEEDS = (1, 2, 3)
TIP_STEPS = (50, 10)  # coarser than the release's (200, 20) search grid, for test time; same grid on both sides


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def synthetic_task(seed: int, shots: int):
    """``(support (x, y), val (x, y), test (x, y), zs (C, D), raw_anchors (C, D))`` for one seed and shot count."""
    kw = dict(num_classes=5, dim=512, noise=2.3, text_noise=4., means_seed=0)
    pool, text = make_synthetic_features(per_class=24, seed=100 + seed, **kw)
    test, _ = make_synthetic_features(per_class=100, seed=7, split='test', **kw)
    g = torch.Generator().manual_seed(seed)
    sup, val = [], []
    for c in range(5):
        idx = (pool.labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        sup.append(idx[:shots])
        val.append(idx[16:16 + min(shots, 4)])  # the releases' extra few-shot validation set
    sup, val = torch.cat(sup), torch.cat(val)
    templates = F.normalize(text[:, None] + 0.3 * torch.randn(5, 4, 512, generator=g) / 512 ** 0.5, dim=-1)
    templates = templates * (7 + 3 * torch.rand(5, 4, 1, generator=g))
    raw = templates.mean(1)
    zs = F.normalize(F.normalize(templates, dim=-1).mean(1), dim=-1)
    x, y = pool.features, pool.labels
    return (x[sup], y[sup]), (x[val], y[val]), (test.features, test.labels), zs, raw


def accuracy(logits, labels) -> float:
    return float((logits.argmax(1) == labels).float().mean())


def ours(name: str, seed: int):
    """Our adapter as the sweep configures it (defaults; ZS-LP on CLAP's schedule)."""
    return dict(LP=lambda: LinearProbe(seed=seed), LPPlusPlus=lambda: LPPlusPlus(seed=seed),
                ZSLP=lambda: ZSLinearProbe(epochs=300, lr=0.1, batch_size=256, cosine=True, warmup_epochs=1,
                                           seed=seed),
                CLAP=lambda: CLAP(seed=seed), CLIPAdapter=lambda: CLIPAdapter(seed=seed),
                TipAdapter=lambda: TipAdapter(search_step=TIP_STEPS, seed=seed),
                TipAdapterF=lambda: TipAdapterF(search_step=TIP_STEPS, seed=seed))[name]()


def official_predict(name: str, support, val, zs, raw, seed: int):
    x, y = support
    if name == 'LP':
        return official.lpclip_official(x, y, val)
    if name == 'LPPlusPlus':
        return official.lp_plus_plus_official(x, y, zs, val, seed=seed)
    if name in ('ZSLP', 'CLAP'):
        return official.clap_official(x, y, raw, SCALE, constraint=name == 'CLAP', seed=seed)
    if name == 'CLIPAdapter':
        return official.clip_adapter_official(x, y, raw, SCALE, seed=seed)
    return official.tip_adapter_official(x, y, zs, SCALE, val, finetune=name == 'TipAdapterF', seed=seed,
                                         steps=TIP_STEPS)


SEARCHING = ('LP', 'LPPlusPlus', 'TipAdapter', 'TipAdapterF')  # they pick hyper-parameters on labelled data


def compare(name: str, shots: int):
    """Mean test accuracy over the seeds: ``(ours, ours given the release's val set, official, zero-shot)``."""
    res = []
    for seed in SEEDS:
        support, val, (xt, yt), zs, raw = synthetic_task(seed, shots)
        mine = accuracy(ours(name, seed).fit(support, zs, SCALE, text_anchors=raw)(xt), yt)
        mine_val = accuracy(ours(name, seed).fit(support, zs, SCALE, val=val, text_anchors=raw)(xt), yt) \
            if name in SEARCHING else mine
        ref = official_predict(name, support, val, zs, raw, seed)
        res.append((mine, mine_val, accuracy(ref(xt), yt), accuracy(SCALE * xt @ zs.t(), yt)))
    return tuple(sum(r[i] for r in res) / len(res) for i in range(4))


@pytest.mark.parametrize('shots', SHOTS)
@pytest.mark.parametrize('name', ['LP', 'LPPlusPlus', 'ZSLP', 'CLAP', 'CLIPAdapter', 'TipAdapter', 'TipAdapterF'])
def test_adapter_matches_official_protocol(name, shots):
    """Given the same labels, ours reproduces the release within 3 points; on the support set alone (the sweep,
    no extra validation labels) it is within 3 points too, or better. Exception, LP++: its released step sizes
    make the training curve swing (accuracy falls to chance after a few epochs, then recovers) and the curve
    depends on the number of samples, so an epoch count chosen by k-fold on 3/4 of the shots transfers
    imperfectly; the support-only bound is 5 points there (measured: -4.2 at 4 shots, -3.5 at 16)."""
    mine, mine_val, ref, zero_shot = compare(name, shots)
    assert abs(mine_val - ref) <= 0.03, f'{name} k={shots}: ours (release val) {mine_val:.3f} vs {ref:.3f}'
    bound = 0.05 if name == 'LPPlusPlus' else 0.03
    assert mine >= ref - bound, f'{name} k={shots}: ours (support only) {mine:.3f} vs official {ref:.3f}'
    if name not in SEARCHING:
        assert abs(mine - ref) <= 0.03
    if name == 'CLAP' and shots == 1:
        assert abs(mine - zero_shot) <= 0.03, f'CLAP k=1 {mine:.3f} vs zero-shot {zero_shot:.3f}'
