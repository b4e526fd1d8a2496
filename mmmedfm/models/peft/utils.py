"""Module lookup shared by the PEFT methods: selection by names and types (timm's freeze helpers are the
model), replacing a sub-module in place, and finding a ViT's list of transformer blocks."""
import re
from typing import List, Optional, Sequence, Tuple

from torch import nn

# Where the common ViT implementations keep their transformer blocks: HF CLIP/BERT (``encoder.layers``),
# open_clip (``transformer.resblocks``), timm (``blocks``), mmpretrain (``layers``).
BLOCK_LIST_NAMES = ('encoder.layers', 'transformer.resblocks', 'blocks', 'layers')


def match_modules(module: nn.Module, targets: Sequence[str], types: Tuple[type, ...]) -> List[str]:
    """Names of sub-modules of the given ``types`` whose last name component equals a target, or whose full
    name matches a target as a regular expression (``re.fullmatch``)."""
    names = []
    for name, mod in module.named_modules():
        if not isinstance(mod, types):
            continue
        if any(name.split('.')[-1] == t or re.fullmatch(t, name) for t in targets):
            names.append(name)
    return names


def candidate_names(module: nn.Module, types: Tuple[type, ...]) -> List[str]:
    """Sorted distinct last name components of the sub-modules of the given ``types`` (what ``targets`` may
    name), for error messages."""
    return sorted({name.split('.')[-1] for name, mod in module.named_modules() if name and isinstance(mod, types)})


def replace_module(root: nn.Module, name: str, new: nn.Module) -> None:
    """Set ``root.<name> = new`` for a dotted ``name``."""
    parent_name, _, child = name.rpartition('.')
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


def find_blocks(module: nn.Module, name: Optional[str] = None) -> Tuple[str, nn.Module]:
    """Return ``(name, blocks)``: the ``nn.ModuleList``/``nn.Sequential`` of transformer blocks of a ViT.

    Args:
        module: A vision tower (HF ``CLIPVisionTransformer`` or a wrapper of it, open_clip ``VisionTransformer``,
            timm ``VisionTransformer``, mmpretrain ``VisionTransformer``...).
        name: Full dotted name of the block list; ``None`` searches for a list named as in
            :data:`BLOCK_LIST_NAMES` and requires exactly one.

    Raises:
        ValueError: no block list, or several (e.g. a whole CLIP model with image and text towers), naming
            the candidates so that the config key ``blocks`` can pick one.
    """
    if name is not None:
        try:
            blocks = module.get_submodule(name)
        except AttributeError:
            raise ValueError(f'blocks={name!r} is not a sub-module of {module.__class__.__name__}') from None
        return name, blocks
    found, seen = [], set()
    pattern = re.compile(r'(^|\.)(' + '|'.join(re.escape(n) for n in BLOCK_LIST_NAMES) + r')$')
    for n, mod in module.named_modules():
        if isinstance(mod, (nn.ModuleList, nn.Sequential)) and len(mod) and pattern.search(n) \
                and id(mod) not in seen and not any(n.startswith(f + '.') for f, _ in found):
            seen.add(id(mod))
            found.append((n, mod))
    if len(found) != 1:
        what = 'no' if not found else f'{len(found)} ({[n for n, _ in found]})'
        raise ValueError(f'Found {what} transformer block lists named like {list(BLOCK_LIST_NAMES)} in '
                         f'{module.__class__.__name__}; set `blocks=<dotted name>` in the PEFT config.')
    return found[0]


def block_width(blocks: nn.Module) -> int:
    """Hidden width of a transformer block list: the size of the first LayerNorm in the first block
    (every ViT family above has a pre- or post-norm LayerNorm in each block)."""
    for mod in blocks[0].modules():
        if isinstance(mod, nn.LayerNorm):
            return mod.normalized_shape[-1]
    raise ValueError(f'Cannot infer the hidden width of {blocks[0].__class__.__name__}: no LayerNorm; set '
                     '`embed_dim` in the PEFT config.')
