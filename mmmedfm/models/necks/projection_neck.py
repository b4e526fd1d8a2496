from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from mmmedfm.registry import MODELS


@MODELS.register_module()
class ProjectionNeck(BaseModule):
    """Project image embeddings into a text encoder's width (CITE: 512 -> 1024 for BioLinkBERT-large).

    Identity-friendly init: with ``init='identity'`` a linear projection starts as a (rectangular) identity,
    ``W[i, i] = 1``, zero bias, so at step 0 the first ``min(in, out)`` coordinates pass through unchanged.
    ``init='normal_identity'`` is CITE's: ``W = I + N(0, 0.02)`` and ``nn.Linear``'s default bias
    (``U(-1/sqrt(D_in), 1/sqrt(D_in))``), both drawn from the global (seeded) RNG. With ``num_layers=2`` a
    hidden ReLU layer is added and the output layer is zero-initialised behind a residual identity path.

    Args:
        in_channels (int): Input width ``D_in``.
        out_channels (int): Output width ``D_out``.
        num_layers (int): 1 (linear) or 2 (MLP with residual). Defaults to 1.
        hidden_channels (int, optional): MLP hidden width; defaults to ``out_channels``.
        bias (bool): Use biases (``'identity'``: initialised to 0). Defaults to True.
        init (str): ``'identity'`` (default) or ``'normal_identity'`` (CITE).
        init_cfg (dict, optional): Overrides the identity init when given.

    Shapes:
        input: tuple whose last item is ``(N, D_in)``; output: tuple of one ``(N, D_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_layers: int = 1,
                 hidden_channels: Optional[int] = None, bias: bool = True, init: str = 'identity',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_layers not in (1, 2):
            raise ValueError(f'ProjectionNeck num_layers must be 1 or 2, got {num_layers}')
        if init not in ('identity', 'normal_identity'):
            raise ValueError(f"ProjectionNeck init must be 'identity' or 'normal_identity', got {init!r}")
        self.init = init
        self.in_channels, self.out_channels, self.num_layers = in_channels, out_channels, num_layers
        self.proj = nn.Linear(in_channels, out_channels, bias=bias)
        self.mlp = None
        if num_layers == 2:
            hidden = hidden_channels or out_channels
            self.mlp = nn.Sequential(nn.Linear(out_channels, hidden, bias=bias), nn.ReLU(inplace=True),
                                     nn.Linear(hidden, out_channels, bias=bias))
        self._identity_init()

    @torch.no_grad()
    def _identity_init(self) -> None:
        eye = torch.eye(self.out_channels, self.in_channels)
        if self.init == 'normal_identity':  # bias keeps nn.Linear's default init (drawn before the weight here)
            self.proj.weight.normal_(0., 0.02).add_(eye)
        else:
            self.proj.weight.copy_(eye)
            if self.proj.bias is not None:
                self.proj.bias.zero_()
        if self.mlp is not None:
            nn.init.zeros_(self.mlp[2].weight)
            if self.mlp[2].bias is not None:
                self.mlp[2].bias.zero_()

    def init_weights(self):
        if self.init_cfg:
            super().init_weights()
        # otherwise keep the identity init from __init__ (MMEngine calls init_weights before training)

    def forward(self, feats: Tuple[torch.Tensor]) -> Tuple[torch.Tensor]:
        x = self.proj(feats[-1])
        if self.mlp is not None:
            x = x + self.mlp(x)
        return (x, )
