"""LoRA (Hu et al., 2022) with HF peft's contract: the adapter wraps a frozen base layer, ``B = 0`` at init so
the output is unchanged at step 0, ``scaling = alpha / rank``, ``merge``/``unmerge``."""
import math
import re
from typing import List, Optional, Sequence

import torch
from torch import nn

from mmmedfm.registry import MODELS


class LoRALinear(nn.Module):
    """``y = base(x) + scaling * B(A(dropout(x)))`` around a frozen ``nn.Linear``.

    Args:
        base_layer (nn.Linear): The pretrained layer (kept frozen).
        rank (int): Rank ``r`` of ``A: in -> r`` and ``B: r -> out``.
        alpha (float): Scaling numerator; ``scaling = alpha / rank``.
        dropout (float): Dropout on the adapter's input.

    Shapes:
        ``(*, in_features) -> (*, out_features)``.
    """

    def __init__(self, base_layer: nn.Linear, rank: int, alpha: float, dropout: float = 0.):
        super().__init__()
        if rank <= 0:
            raise ValueError(f'LoRA rank must be a positive integer, got {rank}')
        self.base_layer = base_layer.requires_grad_(False)
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        dev, dtype = base_layer.weight.device, base_layer.weight.dtype
        self.lora_A = nn.Linear(base_layer.in_features, rank, bias=False, device=dev, dtype=dtype)
        self.lora_B = nn.Linear(rank, base_layer.out_features, bias=False, device=dev, dtype=dtype)
        # Same init as HF peft: Kaiming-uniform A, zero B.
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    @property
    def weight(self) -> torch.Tensor:  # attention code that reads ``proj.weight`` keeps working
        return self.base_layer.weight

    @property
    def bias(self) -> Optional[torch.Tensor]:
        return self.base_layer.bias

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

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
        return out + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def match_modules(module: nn.Module, targets: Sequence[str], types=(nn.Linear, )) -> List[str]:
    """Names of sub-modules of the given ``types`` whose last name component equals a target, or whose full
    name matches a target as a regular expression (``re.fullmatch``)."""
    names = []
    for name, mod in module.named_modules():
        if not isinstance(mod, types) or isinstance(mod, LoRALinear):
            continue
        if any(name.split('.')[-1] == t or re.fullmatch(t, name) for t in targets):
            names.append(name)
    return names


def replace_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition('.')
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


@MODELS.register_module()
class LoRA:
    """Inject :class:`LoRALinear` adapters into the ``nn.Linear`` layers named by ``targets``.

    Args:
        rank (int): LoRA rank. Defaults to 4.
        alpha (float, optional): Scaling numerator; ``None`` means ``alpha = rank`` (scaling 1, the seed
            notebook's "no scaling").
        dropout (float): Adapter input dropout. Defaults to 0.
        targets (list[str]): Module names (last component, e.g. ``'q_proj'``) or full-name regexes.
            Defaults to HF CLIP's attention projections ``['q_proj', 'k_proj', 'v_proj']``.
    """

    def __init__(self, rank: int = 4, alpha: Optional[float] = None, dropout: float = 0.,
                 targets: Sequence[str] = ('q_proj', 'k_proj', 'v_proj')):
        self.rank, self.alpha, self.dropout = rank, float(rank if alpha is None else alpha), dropout
        self.targets = list(targets)

    def apply(self, module: nn.Module) -> List[str]:
        names = match_modules(module, self.targets)
        if not names:
            raise ValueError(f'LoRA targets {self.targets} match no nn.Linear in {module.__class__.__name__}; '
                             'check `peft[...].targets` in the config.')
        added = []
        for name in names:
            layer = LoRALinear(module.get_submodule(name), self.rank, self.alpha, self.dropout)
            replace_module(module, name, layer)
            added += [f'{name}.lora_A.weight', f'{name}.lora_B.weight']
        return added
