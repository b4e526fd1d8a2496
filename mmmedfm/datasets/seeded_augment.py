"""Per-sample random augmentation: sample ``i`` of epoch ``e`` draws from a seed of ``(seed, e, i)``.

Each process (and each dataloader worker) otherwise draws augmentations from its own generator stream, so
2 processes x 8 images see other flips/rotations/colour jitter than 1 process x 16 images, and the weights
differ. Here the python, numpy and torch (CPU) generators are seeded from :func:`sample_seed` around the
pipeline call of every training sample and restored afterwards, so every transform (MMPretrain's, ours,
torchvision's) draws the same numbers for a sample whichever rank or worker loads it. ``EpochSeedHook`` sets
``(seed, epoch)`` before each epoch (:meth:`SeededAugmentMixin.set_augment_epoch`).

A sample drawn several times in one epoch (class-balanced or infinite samplers, iteration-based loops) gets a
new seed per draw (``draw`` counts them per process), so repeats are augmented differently; only samplers that
draw each index once per epoch (MMEngine's ``DefaultSampler``) make multi-process runs equal a single process.

A pipeline made only of transforms that draw nothing (:data:`DETERMINISTIC_TRANSFORMS`, e.g. ``PackInputs`` after
the decoded-image cache, with the augmentation on the device) is run unseeded: saving and restoring three
generators costs more than the rest of such a sample's loading (0.19 of 0.35 ms, measured).

Code that augments outside the pipeline (e.g. on the device) gets the same per-sample seed from
``dataset.augment_seed(idx)`` (None when seeding is off).
"""
import random
from collections import Counter
from contextlib import contextmanager
from typing import Optional, Tuple

import numpy as np
import torch


# Transforms (by class name) that draw no random numbers: a pipeline of these alone needs no seeding.
DETERMINISTIC_TRANSFORMS = frozenset({
    'LoadImageFromFile', 'PackInputs', 'Collect', 'ToTensor', 'ImageToTensor', 'Transpose', 'NumpyToPIL',
    'PILToNumpy', 'Resize', 'ResizeEdge', 'CenterCrop', 'Pad', 'Normalize', 'Rot90'})


def draws_random_numbers(transforms) -> bool:
    """Whether a pipeline (built transforms) may draw random numbers: any transform not known to be
    deterministic (:data:`DETERMINISTIC_TRANSFORMS`) counts as random."""
    return any(type(t).__name__ not in DETERMINISTIC_TRANSFORMS for t in transforms)


def sample_seed(seed: int, epoch: int, index: int, draw: int = 0) -> int:
    """A 32-bit seed for ``(seed, epoch, index, draw)``, well mixed (numpy ``SeedSequence``), stable.

    Args:
        seed (int): The run's seed (``randomness.seed``).
        epoch (int): 0-based training epoch.
        index (int): Sample index in the dataset.
        draw (int): How many times this process already loaded ``index`` this epoch. Defaults to 0.
    """
    return int(np.random.SeedSequence([int(seed) % 2**63, int(epoch), int(index), int(draw)]).generate_state(1)[0])


@contextmanager
def seeded_rng(seed: int):
    """Seed python ``random``, numpy's global generator and torch's CPU generator with ``seed`` inside the
    block; restore their previous states after it (the caller's random streams are untouched)."""
    # Not MMEngine's set_random_seed: that one also reseeds CUDA and keeps the new state; this block is scoped
    # and restores the caller's streams. Only the CPU generator is seeded (``torch.manual_seed`` would also reseed
    # every CUDA/XPU device, ~2.5 ms a sample, and fork_rng(devices=[]) would not restore those).
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed)
        torch.default_generator.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class SeededAugmentMixin:
    """Seed each training sample's pipeline from ``(seed, epoch, index, draw)`` (first in the bases, before
    ``BaseDataset``). Off until :meth:`set_augment_epoch` is called, and always off with ``test_mode=True``."""

    def __init__(self, *args, **kwargs):
        self._augment: Optional[Tuple[int, int]] = None
        self._draws: Counter = Counter()
        super().__init__(*args, **kwargs)

    def set_augment_epoch(self, seed: Optional[int], epoch: int) -> None:
        """Start epoch ``epoch`` of a run seeded with ``seed`` (None turns per-sample seeding off)."""
        self._augment = None if seed is None else (int(seed), int(epoch))
        self._draws = Counter()

    def augment_seed(self, idx: int, draw: Optional[int] = None) -> Optional[int]:
        """The seed of sample ``idx``'s ``draw``-th load this epoch (default: the last one, else the next)."""
        if getattr(self, '_augment', None) is None or self.test_mode:
            return None
        if draw is None:
            draw = max(self._draws[idx] - 1, 0)
        return sample_seed(*self._augment, idx, draw)

    def prepare_data(self, idx: int):
        if getattr(self, '_augment', None) is None or self.test_mode:
            return super().prepare_data(idx)
        draw = self._draws[idx]
        self._draws[idx] += 1
        if not draws_random_numbers(getattr(self.pipeline, 'transforms', [self.pipeline])):
            return super().prepare_data(idx)
        with seeded_rng(sample_seed(*self._augment, idx, draw)):
            return super().prepare_data(idx)
