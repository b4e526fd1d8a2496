from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from mmmedfm.registry import MODELS
from .base import BaseAdapter, balanced_accuracy, kfold_splits


def tip_logits(x: torch.Tensor, zs_logits: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
               alpha: float, beta: float) -> torch.Tensor:
    """Tip-Adapter: ``zs_logits + alpha * exp(-beta * (1 - x @ keys^T)) @ values``.

    ``x (N, D)``, ``zs_logits (N, C)``, ``keys (K, D)`` (cached support features), ``values (K, C)`` (one-hot).
    """
    return zs_logits + alpha * torch.exp(-beta * (1 - x @ keys.t())) @ values


def search_grid(scale: float, steps: int) -> Tuple[float, ...]:
    """Tip-Adapter's search list ``0.1 + i * (scale - 0.1) / steps`` for ``i < steps`` (its ``search_hp``)."""
    return tuple(0.1 + i * (scale - 0.1) / steps for i in range(steps))


@torch.no_grad()
def alpha_beta_scores(x_val: torch.Tensor, y_val: torch.Tensor, zs_logits: torch.Tensor, keys: torch.Tensor,
                      values: torch.Tensor, alphas: Sequence[float], betas: Sequence[float]) -> torch.Tensor:
    """``(len(betas), len(alphas))`` balanced accuracies of every ``(beta, alpha)`` on ``(x_val, y_val)``.

    All alphas of a beta at once: the same float32 numbers as :func:`balanced_accuracy` per grid point (per-class
    hit counts / class sizes, then the mean over the classes present), in one batched argmax instead of a Python
    loop over the grid (the release's 200 x 20 grid over 4 folds took ~40 s a fit on one loaded core)."""
    affinity = x_val @ keys.t()
    classes = y_val.unique()
    onehot = (y_val[:, None] == classes[None]).float()  # (N, K) samples of each present class
    sizes = onehot.sum(0)
    alpha = torch.tensor(list(alphas), dtype=zs_logits.dtype)[:, None, None]
    scores = torch.zeros(len(betas), len(alphas))
    for i, b in enumerate(betas):
        cache = torch.exp(-b * (1 - affinity)) @ values
        pred = (zs_logits[None] + alpha * cache[None]).argmax(-1)  # (A, N)
        hits = (pred == y_val[None]).float() @ onehot  # (A, K) correct predictions per class
        scores[i] = (hits / sizes).mean(-1)
    return scores


def best_alpha_beta(scores: torch.Tensor, alphas: Sequence[float], betas: Sequence[float]) -> Tuple[float, float]:
    """The first best ``(alpha, beta)`` of a score grid, beta outer and alpha inner (Tip-Adapter's loop order)."""
    i = int(scores.flatten().argmax())  # argmax returns the first maximum
    return alphas[i % len(alphas)], betas[i // len(alphas)]


def search_alpha_beta(x_val, y_val, zs_logits, keys, values, alphas, betas) -> Tuple[float, float]:
    """The ``(alpha, beta)`` with the best balanced accuracy on ``(x_val, y_val)`` (first best kept)."""
    return best_alpha_beta(alpha_beta_scores(x_val, y_val, zs_logits, keys, values, alphas, betas), alphas, betas)


@MODELS.register_module()
class TipAdapter(BaseAdapter):
    """Training-free Tip-Adapter (Zhang et al., "Tip-Adapter: Training-free Adaption of CLIP for Few-shot
    Classification", ECCV 2022): a key-value cache of the support set (keys = support features, values = one-hot
    labels) whose affinities ``exp(-beta (1 - f keys^T))`` add ``alpha``-weighted votes to the zero-shot logits.
    ``alpha = 0`` (or ``beta = 0`` on a class-balanced support: a constant shift) is exactly zero-shot. With
    ``fit(views=...)`` the keys are the re-normalised mean over augmented views (the release's ``augment_epoch``).

    Hyper-parameters with few labels: ``alpha``/``beta`` are grid-searched as in gaopengcuhk/Tip-Adapter
    ``utils.py::search_hp`` (grids ``0.1 + i (scale - 0.1) / steps``; accuracy, first best kept) but on few
    labels only: ``fit(val=...)`` if given, else stratified k-fold over the support set (each fold's cache is
    built from the other folds; accuracies summed over the folds; the final cache holds the whole support set).
    With 1 shot per class and no ``val`` the initial values are used. Setting both ``alpha`` and ``beta`` skips
    the search.

    Args:
        alpha (float, optional), beta (float, optional): Fixed values.
        alpha_grid, beta_grid (Sequence[float], optional): Explicit search grids (override the scale/steps ones).
        search_scale (tuple): ``(beta_scale, alpha_scale)`` of the release's grids. Defaults to ``(12, 10)``
            (its EuroSAT/SUN397 values: domain-shifted data; ImageNet uses ``(7, 3)``).
        search_step (tuple): ``(beta_steps, alpha_steps)``. Defaults to ``(200, 20)`` (the release's).
        default_alpha (float), default_beta (float): Initial values. Default to 1 and 1 (the release's
            ``init_alpha``/``init_beta``).
        folds (int): Folds of the support set for the search without ``val``. Defaults to 4.
        seed (int): Seed of the folds.
    """

    def __init__(self, alpha: Optional[float] = None, beta: Optional[float] = None,
                 alpha_grid: Optional[Sequence[float]] = None, beta_grid: Optional[Sequence[float]] = None,
                 search_scale: Sequence[float] = (12., 10.), search_step: Sequence[int] = (200, 20),
                 default_alpha: float = 1., default_beta: float = 1., folds: int = 4, seed: int = 0):
        super().__init__(seed)
        self.alpha, self.beta = alpha, beta
        self.beta_grid = tuple(beta_grid) if beta_grid else search_grid(search_scale[0], search_step[0])
        self.alpha_grid = tuple(alpha_grid) if alpha_grid else search_grid(search_scale[1], search_step[1])
        self.default_alpha, self.default_beta, self.folds = default_alpha, default_beta, folds

    def init_values(self) -> Tuple[float, float]:
        """``(alpha, beta)`` before any search: the fixed values where set, else the defaults."""
        return (self.default_alpha if self.alpha is None else self.alpha,
                self.default_beta if self.beta is None else self.beta)

    def grids(self) -> Tuple[Sequence[float], Sequence[float]]:
        return ((self.alpha,) if self.alpha is not None else self.alpha_grid,
                (self.beta,) if self.beta is not None else self.beta_grid)

    def cache(self, x: torch.Tensor, y: torch.Tensor, rows: Optional[torch.Tensor] = None):
        """``(keys, values)`` of support rows ``rows`` (all by default): keys averaged over ``views`` if given."""
        keys = x if self.views is None else F.normalize(self.views.mean(0), dim=-1)
        if rows is not None:
            keys, y = keys[rows], y[rows]
        return keys.clone(), F.one_hot(y, self.num_classes).float()

    def fold_keys(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Cache keys built from support rows ``rows`` (for the search on the other rows)."""
        return self.cache(x, y, rows)[0]

    def search(self, x: torch.Tensor, y: torch.Tensor, val) -> None:
        """Set ``alpha_``/``beta_``: on ``val`` with the whole support's keys, else by stratified k-fold over the
        support set (scores summed over the folds; keys from each fold's training rows); initial values at 1
        shot per class."""
        self.alpha_, self.beta_ = self.init_values()
        if self.alpha is not None and self.beta is not None:
            return
        alphas, betas = self.grids()
        onehot = F.one_hot(y, self.num_classes).float()
        if val is not None:
            scores = alpha_beta_scores(val[0], val[1], self.zero_shot_logits(val[0]), self.fold_keys(x, y, None),
                                       onehot, alphas, betas)
        else:
            splits = kfold_splits(y, self.seed, self.folds)
            if not splits:
                return
            scores = sum(alpha_beta_scores(x[va], y[va], self.zero_shot_logits(x[va]), self.fold_keys(x, y, tr),
                                           onehot[tr], alphas, betas) for tr, va in splits)
        self.alpha_, self.beta_ = best_alpha_beta(scores, alphas, betas)

    def _fit(self, x, y, val):
        self.search(x, y, val)
        keys, values = self.cache(x, y)
        self.register_buffer('keys', keys)
        self.register_buffer('values', values)

    def forward(self, x):
        return tip_logits(x, self.zero_shot_logits(x), self.keys, self.values, self.alpha_, self.beta_)
