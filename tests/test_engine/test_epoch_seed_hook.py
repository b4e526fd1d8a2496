"""EpochSeedHook / seed_worker: per-epoch seeds reach the main process and the dataloader workers."""
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mmmedfm.engine.hooks import EpochSeedHook, epoch_seed, seed_worker
from mmmedfm.registry import HOOKS


class _Draws(Dataset):
    """Each item: the worker's torch seed and what numpy/python draw in that worker."""

    def __len__(self):
        return 2  # one item per worker: each item is its worker's first draw

    def __getitem__(self, i):
        return torch.initial_seed(), np.random.random_sample(), random.random()


def _epoch(seed, init_fn):
    torch.manual_seed(seed)
    loader = DataLoader(_Draws(), batch_size=None, num_workers=2, worker_init_fn=init_fn)
    return [(int(seed), float(a), float(b)) for seed, a, b in loader]


def test_epoch_seed_is_stable_and_distinct():
    assert epoch_seed(0, 1, 0) == epoch_seed(0, 1, 0)
    seeds = {epoch_seed(s, e, r) for s in (0, 1) for e in range(5) for r in range(2)}
    assert len(seeds) == 20 and all(0 <= s < 2**32 for s in seeds)


def test_seed_worker_follows_the_main_torch_seed():
    a, b, c = _epoch(1, seed_worker), _epoch(1, seed_worker), _epoch(2, seed_worker)
    assert a == b and a != c
    for torch_seed, np_draw, py_draw in a:
        # Independent computation: numpy/python generators seeded with the worker's torch seed.
        assert np_draw == np.random.RandomState(torch_seed % 2**32).random_sample()
        assert py_draw == random.Random(torch_seed % 2**32).random()


def test_hook_reseeds_from_seed_epoch_rank():
    class Runner:
        seed, epoch = 7, 3

    hook = HOOKS.build(dict(type='EpochSeedHook'))
    assert isinstance(hook, EpochSeedHook) and hook.priority == 'HIGHEST'
    np.random.seed(123)
    hook.before_train_epoch(Runner())
    s = epoch_seed(7, 3, 0)
    np_draw, py_draw, torch_draw = np.random.random_sample(), random.random(), torch.rand(3)
    assert np_draw == np.random.RandomState(s).random_sample()
    assert py_draw == random.Random(s).random()
    assert torch.equal(torch_draw, torch.rand(3, generator=torch.Generator().manual_seed(s)))
