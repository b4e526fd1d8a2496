"""LoRA on ``nn.MultiheadAttention`` (open_clip towers), with HF peft's layout and parameter names.

``nn.MultiheadAttention`` has no ``nn.Linear`` for q/k/v (one ``in_proj_weight`` parameter) and never calls
``out_proj.forward``; its fast path (eval, no grad) reads the weights directly. So a hook-free adapter must
run the attention with the adapted weights itself: we call ``F.multi_head_attention_forward`` (the function
the module's own slow path calls, SDPA inside when ``need_weights=False``) with ``W + ΔW``. Unlike peft, which
swaps the base parameters in and out around each call, the base weights are never mutated, so the forward is
safe under autograd, ``torch.compile`` and concurrent readers.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .lora_layer import LoRALinear, LoRAMixin


class LoRAMultiheadAttention(nn.Module, LoRAMixin):
    """LoRA on ``in_proj_weight`` (``ΔW: (3E, E)``, optionally per q/k/v part) and ``out_proj`` of a frozen
    ``nn.MultiheadAttention``. Attribute reads (``batch_first``, ``embed_dim``, ``in_proj_weight``...) fall
    through to the base layer, so code that inspects the attention keeps working.

    Parameter names match peft's ``lora.MultiheadAttention``: ``lora_A.weight`` ``(r, E)``, ``lora_B.weight``
    ``(3E, r)``, ``base_layer.out_proj.lora_A.weight``, ``base_layer.out_proj.lora_B.weight``.

    Args:
        base_layer (nn.MultiheadAttention): The pretrained attention (``kdim == vdim == embed_dim``).
        rank (int), alpha (float): As in :class:`LoRALinear`.
        dropout (float): Must be 0: the update acts on weights, as in peft, which ignores LoRA dropout here.
        qkv_parts (tuple[str], optional): Adapt only these thirds of ``in_proj_weight``.
        out_proj (bool): Also adapt ``out_proj``. Defaults to True (peft always does).

    Shapes:
        as ``nn.MultiheadAttention``: query ``(N, L, E)`` if ``batch_first`` else ``(L, N, E)``.
    """

    def __init__(self, base_layer: nn.MultiheadAttention, rank: int, alpha: float, dropout: float = 0.,
                 qkv_parts: Optional[Sequence[str]] = None, out_proj: bool = True):
        super().__init__()
        if not base_layer._qkv_same_embed_dim:
            raise ValueError('LoRA on nn.MultiheadAttention needs kdim == vdim == embed_dim (one in_proj_weight).')
        if dropout:
            raise ValueError('LoRA dropout is not supported on nn.MultiheadAttention (the update is applied to '
                             'the weights, as in HF peft); set dropout=0.')
        self.base_layer = base_layer.requires_grad_(False)
        w = base_layer.in_proj_weight
        self.init_lora(w.shape[1], w.shape[0], rank, alpha, qkv_parts, device=w.device, dtype=w.dtype)
        if out_proj:
            base_layer.out_proj = LoRALinear(base_layer.out_proj, rank, alpha)
        self.merged = False

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == 'base_layer':
                raise
            return getattr(self.base_layer, name)

    def _out_proj(self) -> Tuple[nn.Module, Optional[LoRALinear]]:
        out = self.base_layer.out_proj
        return (out.base_layer, out) if isinstance(out, LoRALinear) else (out, None)

    def adapted_weights(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(in_proj_weight + ΔW_in, out_proj.weight + ΔW_out)`` (differentiable in the LoRA weights)."""
        base_out, lora_out = self._out_proj()
        w_in = self.base_layer.in_proj_weight + self.delta_weight().to(self.base_layer.in_proj_weight.dtype)
        w_out = base_out.weight if lora_out is None else \
            base_out.weight + lora_out.delta_weight().to(base_out.weight.dtype)
        return w_in, w_out

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.base_layer.in_proj_weight += self.delta_weight().to(self.base_layer.in_proj_weight.dtype)
            if self._out_proj()[1] is not None:
                self._out_proj()[1].merge()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base_layer.in_proj_weight -= self.delta_weight().to(self.base_layer.in_proj_weight.dtype)
            if self._out_proj()[1] is not None:
                self._out_proj()[1].unmerge()
            self.merged = False

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None, need_weights: bool = True,
                attn_mask: Optional[torch.Tensor] = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        m = self.base_layer
        if self.merged:  # plain module, fast path included
            return m(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                     attn_mask=attn_mask, average_attn_weights=average_attn_weights, is_causal=is_causal)
        # Same steps as nn.MultiheadAttention's slow path, with the adapted weights.
        key_padding_mask = F._canonical_mask(mask=key_padding_mask, mask_name='key_padding_mask',
                                             other_type=F._none_or_dtype(attn_mask), other_name='attn_mask',
                                             target_type=query.dtype)
        attn_mask = F._canonical_mask(mask=attn_mask, mask_name='attn_mask', other_type=None, other_name='',
                                      target_type=query.dtype, check_other=False)
        batched_first = m.batch_first and query.dim() == 3
        if batched_first:
            query, key, value = (t.transpose(1, 0) for t in (query, key, value))
        w_in, w_out = self.adapted_weights()
        out, weights = F.multi_head_attention_forward(
            query, key, value, m.embed_dim, m.num_heads, w_in, m.in_proj_bias, m.bias_k, m.bias_v,
            m.add_zero_attn, m.dropout, w_out, self._out_proj()[0].bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        return (out.transpose(1, 0) if batched_first else out), weights
