"""LoRA layers (Hu et al., 2022) with HF peft's contract: the adapter wraps a frozen base layer, ``B = 0`` at init
so the output is unchanged at step 0, ``scaling = alpha / rank``, ``merge``/``unmerge``.

Ours only where peft has no equivalent: the per-part update of a fused q/k/v projection (timm/CONCH ``qkv``,
one ``A_p``/``B_p`` per selected third). Whole-weight adapters use the same names as peft's
(``<layer>.lora_A.weight``, ``<layer>.lora_B.weight``, base weights under ``<layer>.base_layer``), so they export
to peft's on-disk format by adding a prefix. Injection (which layers get one) is :mod:`.lora`.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

QKV_PARTS = ('q', 'k', 'v')


def check_parts(parts: Optional[Sequence[str]], out_features: int, name: str = '') -> Optional[Tuple[str]]:
    if parts is None:
        return None
    parts = tuple(parts)
    if not parts or any(p not in QKV_PARTS for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f'qkv_parts must be a non-empty subset of {QKV_PARTS}, got {parts}')
    if out_features % 3:
        raise ValueError(f'qkv_parts={parts} needs a fused q/k/v projection (out_features divisible by 3); '
                         f'{name or "the layer"} has out_features={out_features}')
    return parts


class LoRAMixin:
    """The low-rank update ``ΔW = scaling * B @ A`` of an ``(out, in)`` weight, as ``lora_A``/``lora_B``
    sub-modules of the adapted layer (peft's names), optionally restricted to some of the three row blocks of
    a fused q/k/v projection.

    ``parts=None`` adapts the whole weight (peft's layout: ``lora_A: in -> r``, ``lora_B: r -> out``
    ``nn.Linear``); a subset of ``('q', 'k', 'v')`` gives each selected third its own ``A_p``/``B_p``
    (``lora_A.q``, ``lora_B.q``...) and leaves the other rows unchanged.
    """

    def init_lora(self, in_features: int, out_features: int, rank: int, alpha: float,
                  parts: Optional[Sequence[str]] = None, device=None, dtype=None) -> None:
        if not isinstance(rank, int) or rank <= 0:
            raise ValueError(f'LoRA rank must be a positive integer, got {rank!r}')
        self.rank, self.alpha, self.scaling = rank, alpha, alpha / rank
        self.qkv_parts = check_parts(parts, out_features)
        self.lora_out_features = out_features
        kw = dict(bias=False, device=device, dtype=dtype)
        if self.qkv_parts is None:
            self.lora_A = nn.Linear(in_features, rank, **kw)
            self.lora_B = nn.Linear(rank, out_features, **kw)
        else:
            self.lora_A = nn.ModuleDict({p: nn.Linear(in_features, rank, **kw) for p in self.qkv_parts})
            self.lora_B = nn.ModuleDict({p: nn.Linear(rank, out_features // 3, **kw) for p in self.qkv_parts})
        # Same init as HF peft: Kaiming-uniform A, zero B.
        for a, b in self._lora_pairs():
            nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
            nn.init.zeros_(b.weight)

    def _lora_pairs(self) -> List[Tuple[nn.Linear, nn.Linear]]:
        if self.qkv_parts is None:
            return [(self.lora_A, self.lora_B)]
        return [(self.lora_A[p], self.lora_B[p]) for p in self.qkv_parts]

    def delta_weight(self) -> torch.Tensor:
        """``ΔW``, shape ``(out_features, in_features)``."""
        if self.qkv_parts is None:
            return (self.lora_B.weight @ self.lora_A.weight) * self.scaling
        a0 = next(iter(self.lora_A.values())).weight
        rows = [(self.lora_B[p].weight @ self.lora_A[p].weight) * self.scaling if p in self.qkv_parts else
                a0.new_zeros(self.lora_out_features // 3, a0.shape[1]) for p in QKV_PARTS]
        return torch.cat(rows, 0)

    def delta_output(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ ΔWᵀ`` without forming ``ΔW``: ``(*, in) -> (*, out)``."""
        if self.qkv_parts is None:
            return self.lora_B(self.lora_A(x)) * self.scaling
        outs = {p: self.lora_B[p](self.lora_A[p](x)) * self.scaling for p in self.qkv_parts}
        ref = next(iter(outs.values()))
        return torch.cat([outs[p] if p in outs else ref.new_zeros(ref.shape) for p in QKV_PARTS], -1)


class LoRALinear(nn.Module, LoRAMixin):
    """``y = base(x) + scaling * B(A(dropout(x)))`` around a frozen ``nn.Linear``.

    Args:
        base_layer (nn.Linear): The pretrained layer (kept frozen).
        rank (int): Rank ``r`` of ``A: in -> r`` and ``B: r -> out``.
        alpha (float): Scaling numerator; ``scaling = alpha / rank``.
        dropout (float): Dropout on the adapter's input.
        qkv_parts (tuple[str], optional): For a fused q/k/v linear (timm/CONCH ``attn.qkv``,
            ``out = 3 * dim``), adapt only these thirds, e.g. ``('q', 'v')``. ``None``: the whole weight.

    Shapes:
        ``(*, in_features) -> (*, out_features)``.
    """

    def __init__(self, base_layer: nn.Linear, rank: int, alpha: float, dropout: float = 0.,
                 qkv_parts: Optional[Sequence[str]] = None):
        super().__init__()
        self.base_layer = base_layer.requires_grad_(False)
        self.init_lora(base_layer.in_features, base_layer.out_features, rank, alpha, qkv_parts,
                       device=base_layer.weight.device, dtype=base_layer.weight.dtype)
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    in_features = property(lambda self: self.base_layer.in_features)
    out_features = property(lambda self: self.base_layer.out_features)
    # Attention code that reads ``proj.weight`` (e.g. fused-qkv fast paths) sees the base weight.
    weight = property(lambda self: self.base_layer.weight)
    bias = property(lambda self: self.base_layer.bias)

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.base_layer.weight += self.delta_weight().to(self.base_layer.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base_layer.weight -= self.delta_weight().to(self.base_layer.weight.dtype)
            self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        return out + self.delta_output(self.lora_dropout(x)).to(out.dtype)
