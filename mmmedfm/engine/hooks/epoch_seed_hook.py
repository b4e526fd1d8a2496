"""Per-epoch reseeding so that a resumed run repeats the random augmentation of an uninterrupted one.

MMEngine checkpoints hold the model, optimizer, scheduler and message-hub state, but not the python / numpy /
torch RNG state of the main process or of the dataloader workers. Without reseeding, epochs after a resume
draw different augmentations (and dropout masks). This hook reseeds all three generators at the start of
every training epoch from ``(randomness seed, epoch, rank)``: epoch ``e`` draws the same random numbers
whether or not the run was interrupted before it.

Dataloader workers are forked when an epoch's iterator is created, which happens *after*
``before_train_epoch``. PyTorch gives worker ``i`` the torch seed ``base_seed + i`` with ``base_seed`` drawn
from the (just reseeded) main torch generator; :func:`seed_worker` then derives the numpy / python seeds from
it. MMEngine's own ``worker_init_fn`` would instead reseed every worker with the same constant each epoch
(``num_workers * rank + worker_id + seed``), so the hook replaces it.

Limit: persistent workers (``persistent_workers=True``) are forked once and keep their RNG across epochs, so
their epoch ``e`` depends on the epochs they already ran. Exact resume needs ``num_workers=0`` or
``persistent_workers=False`` (``tools/train.py --no-persistent-workers``); the hook warns otherwise. The
hook acts at epoch boundaries: with ``IterBasedTrainLoop`` (one "epoch") it only reseeds once.
"""
import random
import warnings
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import FUNCTIONS
from mmengine.runner import set_random_seed

from mmmedfm.registry import HOOKS


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 32-bit seed for ``(seed, epoch, rank)``, well mixed (numpy ``SeedSequence``), stable across runs.

    Args:
        seed (int): The run's seed (``randomness.seed``).
        epoch (int): The 0-based epoch about to start.
        rank (int): Distributed rank (ranks draw different augmentations).

    Returns:
        int: A seed in ``[0, 2**32)``.
    """
    return int(np.random.SeedSequence([int(seed) % 2**63, int(epoch), int(rank)]).generate_state(1)[0])


@FUNCTIONS.register_module(name='mmmedfm.seed_worker')
def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed numpy / python from the worker's torch seed (``torch.initial_seed()``).

    PyTorch sets each worker's torch seed to ``base_seed + worker_id``, ``base_seed`` drawn from the main
    process's torch generator when the epoch's iterator is created; this makes the numpy/python augmentation
    RNG follow it (PyTorch's documented ``seed_worker`` recipe). Config form:
    ``worker_init_fn=dict(type='mmmedfm.seed_worker')``.

    Args:
        worker_id (int): Worker index (unused: already part of ``torch.initial_seed()``).
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed python/numpy/torch from ``(randomness seed, epoch, rank)`` before every training epoch.

    Args:
        seed (int, optional): Base seed. Defaults to None: the runner's seed (``randomness.seed``; on resume
            MMEngine restores the checkpoint's seed).
        seed_workers (bool): Install :func:`seed_worker` as the train dataloader's ``worker_init_fn`` so that
            workers follow the per-epoch seed. Defaults to True.
        per_sample (bool): Also give the train dataset ``(seed, epoch)`` for per-sample augmentation seeds
            (:class:`~mmmedfm.datasets.seeded_augment.SeededAugmentMixin`): the augmentation of a sample no
            longer depends on the rank or worker that loads it. Defaults to True.
    """

    priority = 'HIGHEST'

    def __init__(self, seed: Optional[int] = None, seed_workers: bool = True, per_sample: bool = True):
        self.seed = seed
        self.seed_workers = seed_workers
        self.per_sample = per_sample

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        if not isinstance(loader, torch.utils.data.DataLoader) or loader.num_workers == 0:
            return
        if self.seed_workers:
            # DataLoader allows changing worker_init_fn after construction (used when workers are forked).
            loader.worker_init_fn = seed_worker
        if loader.persistent_workers:
            msg = ('EpochSeedHook: the train dataloader uses persistent workers, which keep their RNG across '
                   'epochs, so a resumed run does not repeat the augmentation exactly. Use num_workers=0 or '
                   'persistent_workers=False (--no-persistent-workers) for exact resume.')
            if getattr(runner, '_resume', False):  # it matters now: warn
                warnings.warn(msg)
            else:
                runner.logger.info(msg)

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else runner.seed
        dataset = getattr(getattr(runner, 'train_dataloader', None), 'dataset', None)
        while hasattr(dataset, 'dataset'):  # MMEngine's dataset wrappers
            dataset = dataset.dataset
        if self.per_sample and hasattr(dataset, 'set_augment_epoch'):
            # Rank-independent per-sample augmentation seeds (before the epoch's workers are forked).
            dataset.set_augment_epoch(base, runner.epoch)
        if base is None:
            return
        # python, numpy and torch (CPU + CUDA) as the Runner seeds them at start; the seed is already per rank
        set_random_seed(epoch_seed(base, runner.epoch, get_rank()))
