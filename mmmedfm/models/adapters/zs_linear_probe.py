import torch
import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import BaseAdapter, train_epochs


@MODELS.register_module()
class ZSLinearProbe(BaseAdapter):
    """Zero-shot-initialised linear probe (ZS-LP; seed notebook 1_4, and Silva-Rodríguez et al., CVPR 2024).

    A cosine classifier ``logits = logit_scale * x @ normalize(W)^T`` whose prototypes ``W`` ``(C, D)`` start at
    the text anchors (``fit(text_anchors=...)``: the raw, un-normalised template-mean text embeddings, as in the
    CLAP code's ``ZS`` initialisation; the unit-norm zero-shot prototypes when none are given) and are trained
    with cross-entropy; the logit scale stays frozen. With ``epochs=0`` it is exactly zero-shot. The norm of
    the anchors matters: the gradient on the direction of ``W`` scales with ``1 / ||W||``.

    Hyper-parameters with few labels: fixed, no search. Defaults are the seed notebook's schedule (SGD lr 1e-3,
    momentum 0.9, 100 epochs, batch 32); the sweep configs run ZS-LP on CLAP's schedule (SGD lr 0.1, batch 256,
    300 epochs, cosine, 1 warm-up epoch at 1e-5), as the CLAP paper compares them.

    Args:
        epochs (int): Training epochs (warm-up included). Defaults to 100.
        lr (float): Learning rate. Defaults to 1e-3.
        batch_size (int): Mini-batch size. Defaults to 32.
        optimizer (str): ``'SGD'``, ``'Adam'`` or ``'AdamW'``. Defaults to ``'SGD'`` (momentum 0.9).
        cosine (bool): Cosine learning-rate decay. Defaults to False.
        warmup_epochs (int): Epochs at the constant ``warmup_lr`` first. Defaults to 0.
        warmup_lr (float): Defaults to 1e-5.
        seed (int): Seed of the shuffling.
    """

    def __init__(self, epochs: int = 100, lr: float = 1e-3, batch_size: int = 32, optimizer: str = 'SGD',
                 cosine: bool = False, warmup_epochs: int = 0, warmup_lr: float = 1e-5, seed: int = 0):
        super().__init__(seed)
        self.epochs, self.lr, self.batch_size, self.optimizer, self.cosine = epochs, lr, batch_size, optimizer, cosine
        self.warmup_epochs, self.warmup_lr = warmup_epochs, warmup_lr

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(x), y)

    def _fit(self, x, y, val):
        self.prototypes = nn.Parameter(self.text_anchors.clone())
        x, y = self.training_set(x, y)
        self.history = train_epochs([self.prototypes], self.loss, x, y, self.epochs, self.batch_size, self.lr,
                                    self.optimizer, cosine=self.cosine, warmup_epochs=self.warmup_epochs,
                                    warmup_lr=self.warmup_lr)

    def forward(self, x):
        return self.logit_scale * x @ F.normalize(self.prototypes, dim=-1).t()
