"""Reuse pretrained weights loaded earlier in the same process (in-process sweeps: one load per backbone).

Inside :func:`reuse_loaded_models`, :func:`memoised_load` keeps a pristine deep copy of what a loader returned
and hands out deep copies of it on later calls with the same key, so every cell starts from the same base
weights without reading them again. A load that draws random numbers (torch, numpy or python RNG) is never
reused: a later cell must draw them too, exactly as a separate process would, so that its adapter
initialisation is the same.
"""
import copy
import random
from contextlib import contextmanager
from typing import Callable, Hashable, Optional

import numpy as np
import torch

_UNSAFE = object()
_STORE: Optional[dict] = None


@contextmanager
def reuse_loaded_models():
    """Context in which :func:`memoised_load` reuses earlier loads (nested uses share the outer store)."""
    global _STORE
    outer = _STORE
    if outer is None:
        _STORE = {}
    try:
        yield _STORE
    finally:
        if outer is None:
            _STORE = None


def _rng_state():
    return torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def _same(a, b) -> bool:
    return torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def memoised_load(key: Optional[Hashable], load: Callable):
    """``load()``, or a deep copy of its earlier result for ``key`` inside :func:`reuse_loaded_models`."""
    if _STORE is None or key is None:
        return load()
    hit = _STORE.get(key)
    if hit is not None and hit is not _UNSAFE:
        return copy.deepcopy(hit)
    before = _rng_state()
    obj = load()
    if hit is None:
        _STORE[key] = copy.deepcopy(obj) if _same(before, _rng_state()) else _UNSAFE
    return obj
