"""CITE's lr schedule, built from our configs by MMEngine, against mmcv 1.x's formula (CITE's runner)."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS


def cite_lr(base_lr, i, max_iters=1000, warmup_iters=20, warmup_ratio=0.005):
    """mmcv CosineAnnealingLrUpdaterHook(min_lr=0, by_epoch=False) with warmup='constant': the regular (cosine)
    lr at iteration i, times warmup_ratio while i < warmup_iters."""
    regular = 0. + 0.5 * (base_lr - 0.) * (1 + math.cos(math.pi * i / max_iters))
    return regular * warmup_ratio if i < warmup_iters else regular


def lrs_at(cfg, iters):
    model = torch.nn.Linear(2, 2)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper)) for s in cfg.param_scheduler]
    out = {}
    for i in range(max(iters) + 1):
        if i in iters:
            out[i] = wrapper.optimizer.param_groups[0]['lr']
        for s in schedulers:  # MMEngine's ParamSchedulerHook steps them in list order after each iteration
            s.step()
    return out


@pytest.mark.parametrize('config,base_lr', [
    ('configs/cite/cite_clip-b16-biolinkbert_16wsi-1000it_patchgastric.py', 0.03),
    ('configs/cite/linearprobe_clip-b16_16wsi-1000it_patchgastric.py', 1e-2),
    ('configs/cite/vpt1-linear_clip-b16_16wsi-1000it_patchgastric.py', 1e-2),
    ('configs/cite/fullft-linear_clip-b16_16wsi-1000it_patchgastric.py', 1e-5),
])
def test_cite_lr_equals_mmcv_schedule(config, base_lr):
    cfg = Config.fromfile(config)
    assert cfg.optim_wrapper.optimizer.lr == base_lr
    assert cfg.train_cfg.max_iters == 1000
    iters = [0, 10, 19, 20, 500, 999]
    got = lrs_at(cfg, iters)
    for i in iters:
        assert got[i] == pytest.approx(cite_lr(base_lr, i), rel=1e-9, abs=0.), i
