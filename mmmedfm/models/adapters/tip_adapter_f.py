from typing import Optional, Sequence

import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import train_epochs
from .tip_adapter import TipAdapter


@MODELS.register_module()
class TipAdapterF(TipAdapter):
    """Tip-Adapter-F (Zhang et al., ECCV 2022): Tip-Adapter whose cache keys are fine-tuned (a linear layer
    initialised with the support features) with cross-entropy; values and zero-shot prototypes stay frozen.

    Hyper-parameters with few labels: ``alpha``/``beta`` are chosen first as in :class:`TipAdapter` (search on
    a split held out from the support set, defaults at 1 shot), then the keys are fine-tuned on the whole
    support set with the paper's schedule (AdamW lr 1e-3, eps 1e-4, cosine, batch 256; 20 epochs).

    Args:
        epochs (int): Defaults to 20. lr (float): Defaults to 1e-3. batch_size (int): Defaults to 256.
        Other args: see :class:`TipAdapter`.
    """

    def __init__(self, epochs: int = 20, lr: float = 1e-3, batch_size: int = 256,
                 alpha: Optional[float] = None, beta: Optional[float] = None,
                 alpha_grid: Sequence[float] = (0.1, 0.3, 1., 3., 10.),
                 beta_grid: Sequence[float] = (1., 3., 5.5, 8., 11.), default_alpha: float = 1.,
                 default_beta: float = 5.5, val_fraction: float = 0.25, seed: int = 0):
        super().__init__(alpha, beta, alpha_grid, beta_grid, default_alpha, default_beta, val_fraction, seed)
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size

    def _fit(self, x, y, val):
        super()._fit(x, y, val)
        self.keys = nn.Parameter(self.keys)
        self.history = train_epochs([self.keys], lambda xb, yb: F.cross_entropy(self(xb), yb), x, y, self.epochs,
                                    self.batch_size, self.lr, 'AdamW', weight_decay=0.01, cosine=True, eps=1e-4)
