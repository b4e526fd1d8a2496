from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import train_epochs
from .tip_adapter import TipAdapter, tip_logits


@MODELS.register_module()
class TipAdapterF(TipAdapter):
    """Tip-Adapter-F (Zhang et al., ECCV 2022): Tip-Adapter whose cache keys ``(K, D)`` are fine-tuned with
    cross-entropy (a linear layer initialised with the support features); values and zero-shot prototypes stay
    frozen.

    Protocol of gaopengcuhk/Tip-Adapter ``main.py::run_tip_adapter_F``: the keys are fine-tuned at the *initial*
    ``alpha``/``beta`` (``default_alpha = default_beta = 1``) with AdamW (lr 1e-3, eps 1e-4, weight decay 0.01),
    cosine decay per iteration, batch 256, 20 epochs; **then** ``alpha``/``beta`` are searched with the
    fine-tuned keys (grids of :class:`TipAdapter`). Few labels only: with ``fit(val=...)`` the keys are
    fine-tuned on the whole support set and searched on ``val``; otherwise by stratified k-fold over the support
    set (each fold's keys fine-tuned on the other folds, scores summed), and the final keys are fine-tuned on
    the whole support set at the initial values and used with the searched ``alpha``/``beta``. With 1 shot per class the
    initial values stay. The release also keeps the epoch with the best *test* accuracy; we keep the last one.

    Args:
        epochs (int): Defaults to 20. lr (float): Defaults to 1e-3. batch_size (int): Defaults to 256.
        Other args: see :class:`TipAdapter`.
    """

    def __init__(self, epochs: int = 20, lr: float = 1e-3, batch_size: int = 256,
                 alpha: Optional[float] = None, beta: Optional[float] = None,
                 alpha_grid: Optional[Sequence[float]] = None, beta_grid: Optional[Sequence[float]] = None,
                 search_scale: Sequence[float] = (12., 10.), search_step: Sequence[int] = (200, 20),
                 default_alpha: float = 1., default_beta: float = 1., folds: int = 4, seed: int = 0):
        super().__init__(alpha, beta, alpha_grid, beta_grid, search_scale, search_step, default_alpha, default_beta,
                         folds, seed)
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size

    def finetune(self, x: torch.Tensor, y: torch.Tensor, rows: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Keys ``(K, D)`` of support rows ``rows`` fine-tuned at the initial alpha/beta on the same rows."""
        keys, values = self.cache(x, y, rows)
        keys = nn.Parameter(keys)
        alpha, beta = self.init_values()
        xs = x if self.views is None else self.views
        xs = xs if rows is None else xs[..., rows, :]
        ys = y if rows is None else y[rows]
        if xs.ndim == 3:  # augmented views: every view is a training sample
            xs, ys = xs.reshape(-1, xs.shape[-1]), ys.repeat(len(self.views))

        def loss(xb, yb):
            return F.cross_entropy(tip_logits(xb, self.zero_shot_logits(xb), keys, values, alpha, beta), yb)

        self.history = train_epochs([keys], loss, xs, ys, self.epochs, self.batch_size, self.lr, 'AdamW',
                                    weight_decay=0.01, cosine=True, eps=1e-4)
        return keys.detach()

    def fold_keys(self, x, y, rows):
        """Keys fine-tuned (at the initial alpha/beta) on support rows ``rows`` (all rows when ``None``)."""
        return self.finetune(x, y, rows)

    def _fit(self, x, y, val):
        self.search(x, y, val)  # every candidate keys set is fine-tuned first, then alpha/beta are searched
        self.keys = nn.Parameter(self.finetune(x, y))
        self.register_buffer('values', F.one_hot(y, self.num_classes).float())
