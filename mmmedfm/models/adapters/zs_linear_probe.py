import torch
import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import BaseAdapter, train_epochs


@MODELS.register_module()
class ZSLinearProbe(BaseAdapter):
    """Zero-shot-initialised linear probe (ZS-LP; seed notebook 1_4, and Silva-Rodríguez et al., CVPR 2024).

    A cosine classifier ``logits = logit_scale * x @ normalize(W)^T`` whose prototypes ``W`` start at the
    zero-shot ones and are trained with cross-entropy; the logit scale stays frozen. With ``epochs=0`` it is
    exactly zero-shot.

    Hyper-parameters with few labels: fixed (the seed notebook's schedule: SGD lr 1e-3, momentum 0.9, 100
    epochs, batch 32); no search, so nothing is taken from the support set for validation.

    Args:
        epochs (int): Training epochs. Defaults to 100.
        lr (float): Learning rate. Defaults to 1e-3.
        batch_size (int): Mini-batch size. Defaults to 32.
        optimizer (str): ``'SGD'``, ``'Adam'`` or ``'AdamW'``. Defaults to ``'SGD'`` (momentum 0.9).
        cosine (bool): Cosine learning-rate decay. Defaults to False.
        seed (int): Seed of the shuffling.
    """

    def __init__(self, epochs: int = 100, lr: float = 1e-3, batch_size: int = 32, optimizer: str = 'SGD',
                 cosine: bool = False, seed: int = 0):
        super().__init__(seed)
        self.epochs, self.lr, self.batch_size, self.optimizer, self.cosine = epochs, lr, batch_size, optimizer, cosine

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(x), y)

    def _fit(self, x, y, val):
        self.prototypes = nn.Parameter(self.zs_weights.clone())
        self.history = train_epochs([self.prototypes], self.loss, x, y, self.epochs, self.batch_size, self.lr,
                                    self.optimizer, cosine=self.cosine)

    def forward(self, x):
        return self.logit_scale * x @ F.normalize(self.prototypes, dim=-1).t()
