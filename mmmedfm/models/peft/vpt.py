"""Visual prompt tuning (Jia et al., ECCV 2022) for any ViT with a list of transformer blocks.

Prompts live only inside the block stack: a forward pre-hook on the first block inserts them after the prefix
tokens (CLS, registers), deep VPT's pre-hooks on the later blocks replace the previous layer's prompt outputs by
that layer's own prompts, and a forward hook on the last block removes them again. Everything outside the
blocks (pooling, final norm, ``featmap`` reshaping, ``last_hidden_state``) sees the usual ``1 + patches``
tokens, so one implementation serves HF CLIP (``encoder.layers``), open_clip (``transformer.resblocks``, batch-
or sequence-first), timm (``blocks``) and mmpretrain (``layers``).

Prompts are initialised once, at construction, from the global RNG (seeded by ``randomness.seed``): never
from data (CITE initialised them from the first batch, so a model evaluated without that batch differed).
"""
import math
from typing import List, Optional

import torch
from torch import nn

from mmmedfm.registry import PEFT_METHODS
from .utils import block_width, find_blocks

_INITS = ('uniform', 'xavier')


class VisualPrompts(nn.Module):
    """Learnable prompt tokens and the hooks that splice them into a block stack.

    Args:
        num_layers (int): 1 (shallow) or the number of blocks (deep).
        num_tokens (int): Prompt tokens per layer.
        embed_dim (int): Token width ``D``.
        dropout (float): Dropout on the prompts (training only).

    Attributes:
        prompts (nn.Parameter): ``(num_layers, num_tokens, D)``.
    """

    def __init__(self, num_layers: int, num_tokens: int, embed_dim: int, dropout: float = 0.):
        super().__init__()
        self.num_tokens = num_tokens
        self.prompts = nn.Parameter(torch.zeros(num_layers, num_tokens, embed_dim))
        self.dropout = nn.Dropout(dropout)
        self.num_prefix_tokens, self.seq_dim = 1, 1
        self._handles = []

    @property
    def deep(self) -> bool:
        return self.prompts.shape[0] > 1

    def attach(self, blocks: nn.Module, num_prefix_tokens: int, seq_first: bool) -> None:
        """Register the hooks on ``blocks`` (an indexable list of transformer blocks)."""
        if self.deep and len(blocks) != self.prompts.shape[0]:
            raise ValueError(f'deep VPT has {self.prompts.shape[0]} prompt layers for {len(blocks)} blocks')
        self.num_prefix_tokens, self.seq_dim = num_prefix_tokens, 0 if seq_first else 1
        n = len(blocks) if self.deep else 1
        for i in range(n):
            self._handles.append(blocks[i].register_forward_pre_hook(_PromptHook(self, i), with_kwargs=True))
        self._handles.append(blocks[len(blocks) - 1].register_forward_hook(_PromptHook(self, -1)))

    def _prompt(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        p = self.dropout(self.prompts[layer]).to(x.dtype)  # (n, D)
        batch = x.shape[1 - self.seq_dim]
        return p.unsqueeze(1 - self.seq_dim).expand(*((batch, -1, -1) if self.seq_dim else (-1, batch, -1)))

    def splice(self, x: torch.Tensor, layer: int, mode: str) -> torch.Tensor:
        """``'insert'`` this layer's prompts after the prefix tokens, ``'replace'`` the previous layer's prompt
        outputs by them, or ``'strip'`` the prompt outputs."""
        k, n, d = self.num_prefix_tokens, self.num_tokens, self.seq_dim
        head, tail = x.narrow(d, 0, k), x.narrow(d, k, x.shape[d] - k)
        if mode != 'insert':  # replace/strip: drop the previous prompt outputs
            tail = tail.narrow(d, n, tail.shape[d] - n)
        parts = [head, tail] if mode == 'strip' else [head, self._prompt(layer, x), tail]
        return torch.cat(parts, d)

    def remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


class _PromptHook:
    """A hook that holds its :class:`VisualPrompts` as an attribute (not a closure), so that ``deepcopy`` of the
    model (MMEngine's EMA model, TTA wrappers) gives the copy hooks bound to the copy's own prompts.

    ``layer >= 0``: forward pre-hook of block ``layer`` (insert at 0, replace after); ``-1``: forward hook of the
    last block (strip).
    """

    def __init__(self, vpt: VisualPrompts, layer: int):
        self.vpt, self.layer = vpt, layer

    def __call__(self, module, args, *rest):
        if self.layer < 0:  # forward hook: (module, args, output)
            out = rest[0]
            if isinstance(out, tuple):
                return (self.vpt.splice(out[0], 0, 'strip'), *out[1:])
            return self.vpt.splice(out, 0, 'strip')
        kwargs, mode = rest[0], 'insert' if self.layer == 0 else 'replace'
        if args:
            return (self.vpt.splice(args[0], self.layer, mode), *args[1:]), kwargs
        key = next(k for k, v in kwargs.items() if torch.is_tensor(v))  # hidden_states / x / q_x
        return args, dict(kwargs, **{key: self.vpt.splice(kwargs[key], self.layer, mode)})


def _num_prefix_tokens(module: nn.Module) -> int:
    """CLS + register tokens: timm's ``num_prefix_tokens``, mmpretrain's ``num_extra_tokens``, else 1 (CLS)."""
    for mod in module.modules():
        for attr in ('num_prefix_tokens', 'num_extra_tokens'):
            if isinstance(getattr(mod, attr, None), int):
                return getattr(mod, attr)
    return 1


def _patch_size(module: nn.Module) -> int:
    conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError('VPT init="uniform" needs the patch size: no Conv2d patch embedding found; set '
                         '`patch_size` in the PEFT config or use init="xavier".')
    return conv.kernel_size[0] * conv.kernel_size[1]


@PEFT_METHODS.register_module()
class VisualPromptTuning:
    """Add trainable prompt tokens to a ViT tower (everything else stays as the other methods left it).

    Args:
        num_tokens (int): Prompt tokens (per layer if deep). Defaults to 1 (CITE).
        deep (bool): ``False``: shallow VPT, prompts inserted after the prefix tokens at the input of the first
            block; ``True``: each block gets its own prompts, replacing the previous block's prompt outputs.
        dropout (float): Dropout on the prompts during training. Defaults to 0.
        init (str): ``'uniform'``: VPT's ``U(-v, v)``, ``v = sqrt(6 / (3 * patch_area + D))`` (Xavier for a
            patch projection); ``'xavier'``: Xavier-uniform over each layer's ``(num_tokens, D)`` matrix.
        blocks (str, optional): Dotted name of the block list; ``None`` finds it (``encoder.layers``,
            ``transformer.resblocks``, ``blocks``, ``layers``).
        embed_dim (int, optional): Token width; ``None`` reads it from the first block's LayerNorm.
        num_prefix_tokens (int, optional): Tokens before the patches (CLS/registers); ``None`` detects it.
        patch_size (int, optional): Patch side for ``init='uniform'``; ``None`` reads the patch Conv2d.

    Adds ``vpt.prompts``: ``(num_layers, num_tokens, D)`` with ``num_layers = len(blocks) if deep else 1``.
    Inside the blocks the sequence is ``prefix + num_tokens + patches`` long.
    """

    def __init__(self, num_tokens: int = 1, deep: bool = False, dropout: float = 0., init: str = 'uniform',
                 blocks: Optional[str] = None, embed_dim: Optional[int] = None,
                 num_prefix_tokens: Optional[int] = None, patch_size: Optional[int] = None):
        if not isinstance(num_tokens, int) or num_tokens < 1:
            raise ValueError(f'VisualPromptTuning num_tokens must be >= 1, got {num_tokens!r}')
        if init not in _INITS:
            raise ValueError(f'VisualPromptTuning init must be one of {_INITS}, got {init!r}')
        self.num_tokens, self.deep, self.dropout, self.init = num_tokens, deep, dropout, init
        self.blocks, self.embed_dim = blocks, embed_dim
        self.num_prefix_tokens, self.patch_size = num_prefix_tokens, patch_size

    def apply(self, module: nn.Module) -> List[str]:
        if hasattr(module, 'vpt'):
            raise ValueError(f'{module.__class__.__name__} already has a `vpt` attribute: apply '
                             'VisualPromptTuning once.')
        name, blocks = find_blocks(module, self.blocks)
        owner = module.get_submodule(name.rpartition('.')[0])
        dim = self.embed_dim or block_width(blocks)
        vpt = VisualPrompts(len(blocks) if self.deep else 1, self.num_tokens, dim, self.dropout)
        vpt.to(next(module.parameters()).device)
        with torch.no_grad():
            if self.init == 'uniform':
                area = self.patch_size ** 2 if self.patch_size else _patch_size(module)
                val = math.sqrt(6. / (3 * area + dim))
                vpt.prompts.uniform_(-val, val)
            else:
                for layer in vpt.prompts:
                    nn.init.xavier_uniform_(layer)
        prefix = self.num_prefix_tokens if self.num_prefix_tokens is not None else _num_prefix_tokens(module)
        # open_clip's Transformer runs sequence-first when batch_first=False.
        vpt.attach(blocks, prefix, seq_first=getattr(owner, 'batch_first', True) is False)
        module.vpt = vpt
        return ['vpt.prompts']
