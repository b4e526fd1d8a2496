"""Co-attention fusion layer: each modality's tokens attend to themselves and to the other modality's tokens."""
from typing import Optional, Tuple

import torch
from torch import nn


class CoAttentionLayer(nn.Module):
    """One bi-directional fusion layer (ViLBERT-style co-attention, pre-norm).

    Per stream (image and text, separate weights): self-attention, cross-attention (queries from this stream,
    keys/values from the other stream's input to this layer), MLP; each with a residual. ``nn.MultiheadAttention``
    dispatches to PyTorch SDPA kernels.

    Args:
        width (int): Token width ``W``.
        heads (int): Attention heads (``W % heads == 0``).
        mlp_ratio (float): MLP hidden width / ``W``. Defaults to 4.
        dropout (float): Dropout on attention weights and residual branches. Defaults to 0.1.

    Shapes:
        ``img (B, Ti, W)``, ``txt (B, Tt, W)``, ``img_pad``/``txt_pad`` ``(B, T)`` bool, ``True`` = padding.
    """

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4., dropout: float = 0.1):
        super().__init__()
        if width % heads:
            raise ValueError(f'adaptor width {width} is not divisible by heads {heads}.')

        def stream():
            return nn.ModuleDict(dict(
                norm1=nn.LayerNorm(width), self_attn=nn.MultiheadAttention(width, heads, dropout, batch_first=True),
                norm2=nn.LayerNorm(width), norm_kv=nn.LayerNorm(width),
                cross_attn=nn.MultiheadAttention(width, heads, dropout, batch_first=True),
                norm3=nn.LayerNorm(width),
                mlp=nn.Sequential(nn.Linear(width, int(width * mlp_ratio)), nn.GELU(), nn.Dropout(dropout),
                                  nn.Linear(int(width * mlp_ratio), width)),
                drop=nn.Dropout(dropout)))

        self.image, self.text = stream(), stream()

    @staticmethod
    def _stream(s: nn.ModuleDict, x: torch.Tensor, pad: Optional[torch.Tensor], ctx: torch.Tensor,
                ctx_pad: Optional[torch.Tensor]) -> torch.Tensor:
        h = s['norm1'](x)
        x = x + s['drop'](s['self_attn'](h, h, h, key_padding_mask=pad, need_weights=False)[0])
        kv = s['norm_kv'](ctx)
        x = x + s['drop'](s['cross_attn'](s['norm2'](x), kv, kv, key_padding_mask=ctx_pad, need_weights=False)[0])
        return x + s['drop'](s['mlp'](s['norm3'](x)))

    def forward(self, img: torch.Tensor, txt: torch.Tensor, img_pad: Optional[torch.Tensor] = None,
                txt_pad: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        return (self._stream(self.image, img, img_pad, txt, txt_pad),
                self._stream(self.text, txt, txt_pad, img, img_pad))
