from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from mmmedfm.registry import MODELS
from .base import BaseAdapter, balanced_accuracy


def tip_logits(x: torch.Tensor, zs_logits: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
               alpha: float, beta: float) -> torch.Tensor:
    """Tip-Adapter: ``zs_logits + alpha * exp(-beta * (1 - x @ keys^T)) @ values``.

    ``x (N, D)``, ``zs_logits (N, C)``, ``keys (K, D)`` (cached support features), ``values (K, C)`` (one-hot).
    """
    return zs_logits + alpha * torch.exp(-beta * (1 - x @ keys.t())) @ values


@MODELS.register_module()
class TipAdapter(BaseAdapter):
    """Training-free Tip-Adapter (Zhang et al., "Tip-Adapter: Training-free Adaption of CLIP for Few-shot
    Classification", ECCV 2022): a key-value cache of the support set (keys = support features, values = one-hot
    labels) whose affinities ``exp(-beta (1 - f keys^T))`` add ``alpha``-weighted votes to the zero-shot logits.
    ``alpha = 0`` (or ``beta = 0`` on a class-balanced support: a constant shift) is exactly zero-shot.

    Hyper-parameters with few labels: ``alpha``/``beta`` are grid-searched as in the paper, but on a few-shot
    validation split held out from the support set (the cache is built from the rest), by balanced accuracy;
    the final cache holds the whole support set. With 1 shot per class the defaults are used. Setting both
    ``alpha`` and ``beta`` skips the search.

    Args:
        alpha (float, optional), beta (float, optional): Fixed values.
        alpha_grid, beta_grid (Sequence[float]): Search grids.
        default_alpha (float): Defaults to 1. default_beta (float): Defaults to 5.5 (the paper's ImageNet values).
        val_fraction (float): Held-out share of each class's shots. Defaults to 0.25.
        seed (int): Seed of the held-out split.
    """

    def __init__(self, alpha: Optional[float] = None, beta: Optional[float] = None,
                 alpha_grid: Sequence[float] = (0.1, 0.3, 1., 3., 10.),
                 beta_grid: Sequence[float] = (1., 3., 5.5, 8., 11.),
                 default_alpha: float = 1., default_beta: float = 5.5, val_fraction: float = 0.25, seed: int = 0):
        super().__init__(seed)
        self.alpha, self.beta = alpha, beta
        self.alpha_grid, self.beta_grid = tuple(alpha_grid), tuple(beta_grid)
        self.default_alpha, self.default_beta, self.val_fraction = default_alpha, default_beta, val_fraction

    def search(self, x, y, val):
        """Set ``self.alpha_``/``self.beta_`` (fixed, searched, or defaults)."""
        if self.alpha is not None and self.beta is not None:
            self.alpha_, self.beta_ = self.alpha, self.beta
            return
        self.alpha_ = self.alpha if self.alpha is not None else self.default_alpha
        self.beta_ = self.beta if self.beta is not None else self.default_beta
        split = self.search_split(x, y, val)
        if split is None:
            return
        x_tr, y_tr, x_va, y_va = split
        onehot, zs = F.one_hot(y_tr, self.num_classes).float(), self.zero_shot_logits(x_va)
        best = -1.
        for a in (self.alpha_grid if self.alpha is None else (self.alpha,)):
            for b in (self.beta_grid if self.beta is None else (self.beta,)):
                score = balanced_accuracy(tip_logits(x_va, zs, x_tr, onehot, a, b), y_va)
                if score > best:
                    best, self.alpha_, self.beta_ = score, a, b

    def _fit(self, x, y, val):
        self.search(x, y, val)
        self.keys = x.clone()
        self.values = F.one_hot(y, self.num_classes).float()

    def forward(self, x):
        return tip_logits(x, self.zero_shot_logits(x), self.keys, self.values, self.alpha_, self.beta_)
