"""Selective PEFT: enable a subset of the (frozen) pretrained parameters. Selection by module type and
parameter name, explicit and testable (timm's freeze helpers are the model)."""
import re
from typing import List, Optional, Sequence

from torch import nn

from mmmedfm.registry import PEFT_METHODS
from .utils import find_blocks

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d)


def _enable(module: nn.Module, names: Sequence[str]) -> List[str]:
    params = dict(module.named_parameters())
    for n in names:
        params[n].requires_grad_(True)
    return list(names)


@PEFT_METHODS.register_module()
class BitFit:
    """BitFit (Ben Zaken et al., 2022): train every bias of the tower."""

    def apply(self, module: nn.Module) -> List[str]:
        return _enable(module, [n for n, _ in module.named_parameters() if n.split('.')[-1] == 'bias'])


@PEFT_METHODS.register_module()
class LayerNormAffine:
    """Affine-LN tuning: train the weight and bias of every normalisation layer (matched by type, so it works
    whatever the layer is called: ``layer_norm1``, ``ln_1``, ``norm1``, ``post_layernorm``)."""

    def apply(self, module: nn.Module) -> List[str]:
        names = [f'{m}.{p}' if m else p for m, mod in module.named_modules() if isinstance(mod, _NORM_TYPES)
                 for p, _ in mod.named_parameters(recurse=False)]
        return _enable(module, names)


@PEFT_METHODS.register_module()
class TrainableParams:
    """Train the parameters whose full names match any of ``patterns`` (``re.search``).

    Args:
        patterns (list[str]): Regular expressions, e.g. ``[r'encoder\\.layers\\.1[01]\\.', 'post_layernorm']``.
    """

    def __init__(self, patterns: Sequence[str]):
        self.patterns = [re.compile(p) for p in patterns]

    def apply(self, module: nn.Module) -> List[str]:
        names = [n for n, _ in module.named_parameters() if any(p.search(n) for p in self.patterns)]
        if not names:
            raise ValueError(f'TrainableParams patterns {[p.pattern for p in self.patterns]} match no parameter '
                             f'of {module.__class__.__name__}.')
        return _enable(module, names)


@PEFT_METHODS.register_module()
class LastKBlocks:
    """Train the last ``k`` transformer blocks (all their parameters).

    Args:
        k (int): Number of blocks counted from the output end; ``k`` >= 1.
        blocks (str, optional): Dotted name of the block list; ``None`` finds it by the common names
            (``encoder.layers``, ``transformer.resblocks``, ``blocks``, ``layers``).
    """

    def __init__(self, k: int, blocks: Optional[str] = None):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f'LastKBlocks needs k >= 1, got {k!r}')
        self.k, self.blocks = k, blocks

    def apply(self, module: nn.Module) -> List[str]:
        name, blocks = find_blocks(module, self.blocks)
        if self.k > len(blocks):
            raise ValueError(f'LastKBlocks k={self.k} but {name} has only {len(blocks)} blocks')
        first = len(blocks) - self.k
        return _enable(module, [f'{name}.{i}.{n}' for i in range(first, len(blocks))
                                for n, _ in blocks[i].named_parameters()])
