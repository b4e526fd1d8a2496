import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import BaseAdapter, train_epochs


@MODELS.register_module()
class CLIPAdapter(BaseAdapter):
    """CLIP-Adapter (Gao et al., "CLIP-Adapter: Better Vision-Language Models with Feature Adapters", IJCV 2024).

    A bottleneck MLP ``D -> D/reduction -> D`` (ReLU after each layer, no bias) blended residually with the
    frozen feature, ``v' = (1 - alpha) v + alpha mlp(v)``, re-normalised and classified by the frozen text
    prototypes: ``logits = logit_scale * normalize(v') @ normalize(t)^T`` (gaopengcuhk/CLIP-Adapter
    ``clip_adapter.py``: reduction 4, ratio 0.2), ``t`` the raw template-mean text embeddings (``fit``'s
    ``text_anchors``; ``zs_weights`` when not given), as the CLAP release's ``forward_clipadapter`` classifies
    (``base_text_features``, normalised).

    Hyper-parameters with few labels: fixed, no search. The official repository ships no schedule config; the
    default is the one the CLAP release (jusiro/CLAP ``configs/trainers/SGD_lr1e-1_B256_ep300.yaml``, ``ClipA``)
    runs CLIP-Adapter with: SGD lr 0.1, momentum 0.9, batch 256, 300 epochs, cosine, 1 warm-up epoch at 1e-5.
    (The seed notebook's SGD lr 1e-3 x 100 epochs underfits: the MLP barely moves.) CLAP's grid search over
    ``lr``/``ratio`` scores on the test split, so it is not reproduced.

    Args:
        alpha (float): Residual ratio. Defaults to 0.2.
        reduction (int): Bottleneck reduction. Defaults to 4.
        epochs (int), lr (float), batch_size (int), optimizer (str), cosine (bool), warmup_epochs (int),
        warmup_lr (float): Schedule (see above).
        seed (int): Seed of the MLP initialisation and shuffling.
    """

    def __init__(self, alpha: float = 0.2, reduction: int = 4, epochs: int = 300, lr: float = 0.1,
                 batch_size: int = 256, optimizer: str = 'SGD', cosine: bool = True, warmup_epochs: int = 1,
                 warmup_lr: float = 1e-5, seed: int = 0):
        super().__init__(seed)
        self.alpha, self.reduction = alpha, reduction
        self.epochs, self.lr, self.batch_size, self.optimizer, self.cosine = epochs, lr, batch_size, optimizer, cosine
        self.warmup_epochs, self.warmup_lr = warmup_epochs, warmup_lr

    def _fit(self, x, y, val):
        d = x.shape[1]
        self.mlp = nn.Sequential(nn.Linear(d, d // self.reduction, bias=False), nn.ReLU(inplace=True),
                                 nn.Linear(d // self.reduction, d, bias=False), nn.ReLU(inplace=True)).to(x.device)
        x, y = self.training_set(x, y)
        self.history = train_epochs(self.mlp.parameters(), lambda xb, yb: F.cross_entropy(self(xb), yb), x, y,
                                    self.epochs, self.batch_size, self.lr, self.optimizer, cosine=self.cosine,
                                    warmup_epochs=self.warmup_epochs, warmup_lr=self.warmup_lr)

    def forward(self, x):
        v = F.normalize((1 - self.alpha) * x + self.alpha * self.mlp(x), dim=-1)
        return self.logit_scale * v @ F.normalize(self.text_anchors, dim=-1).t()
