import torch
import torch.nn.functional as F

from mmmedfm.registry import MODELS
from .zs_linear_probe import ZSLinearProbe


def clap_penalty(prototypes: torch.Tensor, text: torch.Tensor, lambdas: torch.Tensor) -> torch.Tensor:
    """CLAP's class-adaptive constraint ``mean_c lambda_c * ||w_c - t_c||^2`` (prototypes/text ``(C, D)``)."""
    return (lambdas * (prototypes - text).pow(2).sum(-1)).mean()


@torch.no_grad()
def clap_multipliers(zs_logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``lambda_c`` = mean zero-shot softmax probability of class ``c`` over the support samples of class ``c``."""
    probs = zs_logits.softmax(-1)
    return torch.stack([probs[labels == c, c].mean() for c in range(num_classes)])


@MODELS.register_module()
class CLAP(ZSLinearProbe):
    """Class-Adaptive linear Probe (CLAP).

    Silva-Rodríguez, Hajimiri, Ben Ayed, Dolz, "A Closer Look at the Few-Shot Adaptation of Large
    Vision-Language Models", CVPR 2024. ZS-LP plus a penalty keeping each prototype near its text anchor:
    ``loss = CE + mean_c lambda_c ||w_c - t_c||^2``, with ``lambda_c`` the mean zero-shot probability of class
    ``c`` on its own support samples, computed once without gradient (the released default ``l2`` constraint;
    the multipliers stay fixed). As in jusiro/CLAP ``trainers/adapters.py``, the anchors ``t_c`` and the initial
    prototypes are the raw template-mean text embeddings (``fit(text_anchors=...)``; not re-normalised), the
    penalty acts on the raw prototypes and the logits use the normalised ones.

    Hyper-parameters with few labels: none to search, by design (the multipliers come from the support set);
    the schedule is the released ``SGD_lr1e-1_B256_ep300`` (SGD lr 0.1, momentum 0.9, no weight decay, batch
    256, 300 epochs with cosine decay, the first one a warm-up at the constant lr 1e-5). The release also
    augments each support image 20x (``fit(views=...)`` trains on such views; the sweep has only the single
    cached view).

    Args:
        epochs (int): Defaults to 300. lr (float): Defaults to 0.1. batch_size (int): Defaults to 256.
        optimizer (str): Defaults to ``'SGD'``. cosine (bool): Defaults to True.
        warmup_epochs (int): Defaults to 1. warmup_lr (float): Defaults to 1e-5. seed (int): Fit seed.
    """

    def __init__(self, epochs: int = 300, lr: float = 0.1, batch_size: int = 256, optimizer: str = 'SGD',
                 cosine: bool = True, warmup_epochs: int = 1, warmup_lr: float = 1e-5, seed: int = 0):
        super().__init__(epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, cosine=cosine,
                         warmup_epochs=warmup_epochs, warmup_lr=warmup_lr, seed=seed)

    def loss(self, x, y):
        return F.cross_entropy(self(x), y) + clap_penalty(self.prototypes, self.text_anchors, self.lambdas)

    def _fit(self, x, y, val):
        xs, ys = self.training_set(x, y)
        zs_logits = self.logit_scale * xs @ F.normalize(self.text_anchors, dim=-1).t()
        self.register_buffer('lambdas', clap_multipliers(zs_logits, ys, self.num_classes))
        super()._fit(x, y, val)
