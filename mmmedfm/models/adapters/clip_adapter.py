import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import BaseAdapter, train_epochs


@MODELS.register_module()
class CLIPAdapter(BaseAdapter):
    """CLIP-Adapter (Gao et al., "CLIP-Adapter: Better Vision-Language Models with Feature Adapters", IJCV 2024).

    A bottleneck MLP ``D -> D/reduction -> D`` (ReLU after each layer, no bias) blended residually with the
    frozen feature, ``v' = (1 - alpha) v + alpha mlp(v)``, re-normalised and classified by the frozen zero-shot
    prototypes: ``logits = logit_scale * normalize(v') @ zs^T``.

    Hyper-parameters with few labels: fixed (reduction 4 and ``alpha = 0.2``, the paper's values; the seed
    notebook's schedule SGD lr 1e-3, momentum 0.9, 100 epochs, batch 32); no search.

    Args:
        alpha (float): Residual ratio. Defaults to 0.2.
        reduction (int): Bottleneck reduction. Defaults to 4.
        epochs (int), lr (float), batch_size (int), optimizer (str), cosine (bool): Schedule.
        seed (int): Seed of the MLP initialisation and shuffling.
    """

    def __init__(self, alpha: float = 0.2, reduction: int = 4, epochs: int = 100, lr: float = 1e-3,
                 batch_size: int = 32, optimizer: str = 'SGD', cosine: bool = False, seed: int = 0):
        super().__init__(seed)
        self.alpha, self.reduction = alpha, reduction
        self.epochs, self.lr, self.batch_size, self.optimizer, self.cosine = epochs, lr, batch_size, optimizer, cosine

    def _fit(self, x, y, val):
        d = x.shape[1]
        self.mlp = nn.Sequential(nn.Linear(d, d // self.reduction, bias=False), nn.ReLU(inplace=True),
                                 nn.Linear(d // self.reduction, d, bias=False), nn.ReLU(inplace=True))
        self.history = train_epochs(self.mlp.parameters(), lambda xb, yb: F.cross_entropy(self(xb), yb), x, y,
                                    self.epochs, self.batch_size, self.lr, self.optimizer, cosine=self.cosine)

    def forward(self, x):
        v = F.normalize((1 - self.alpha) * x + self.alpha * self.mlp(x), dim=-1)
        return self.zero_shot_logits(v)
