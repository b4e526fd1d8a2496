"""LoRA injection: which layers of a tower get an adapter (:class:`LoRA`, a PEFT method), and merging them.
The layers themselves are in :mod:`.lora_layer` (linears) and :mod:`.lora_mha` (``nn.MultiheadAttention``).
"""
from typing import Dict, List, Optional, Sequence

from torch import nn

from mmmedfm.registry import PEFT_METHODS
from .lora_layer import LoRALinear, LoRAMixin, check_parts
from .lora_mha import LoRAMultiheadAttention
from .utils import candidate_names, match_modules, replace_module

__all__ = ['LoRA', 'LoRALinear', 'LoRAMixin', 'LoRAMultiheadAttention', 'lora_layers', 'merge_lora', 'unmerge_lora']


PEFT_ADAPTER = 'default'  # peft's adapter name: whole-weight layers' parameters are `lora_A.default.weight`


def lora_layers(module: nn.Module) -> Dict[str, nn.Module]:
    """``{name: layer}`` of every LoRA-adapted layer (ours, linear or attention, and HF peft's) in ``module``."""
    from peft.tuners.lora import LoraLayer
    return {n: m for n, m in module.named_modules()
            if isinstance(m, (LoRALinear, LoRAMultiheadAttention, LoraLayer))}


def lora_rank_alpha(layer: nn.Module) -> tuple:
    """``(rank, alpha)`` of one of our LoRA layers or of an HF peft one."""
    if hasattr(layer, 'lora_alpha') and isinstance(layer.lora_alpha, dict):
        return layer.r[PEFT_ADAPTER], layer.lora_alpha[PEFT_ADAPTER]
    return layer.rank, layer.alpha


def merge_lora(module: nn.Module) -> int:
    """Merge every LoRA adapter of ``module`` into its base weights; returns how many layers were merged."""
    layers = lora_layers(module)
    for layer in layers.values():
        layer.merge()
    return len(layers)


def unmerge_lora(module: nn.Module) -> int:
    """Undo :func:`merge_lora`; returns how many layers were unmerged."""
    layers = lora_layers(module)
    for layer in layers.values():
        layer.unmerge()
    return len(layers)


@PEFT_METHODS.register_module()
class LoRA:
    """Inject LoRA adapters into the layers named by ``targets``.

    * ``nn.Linear`` (HF CLIP ``q_proj``/``k_proj``/``v_proj``/``out_proj``, ``fc1``/``fc2``, BERT): the whole
      weight with HF peft's own ``lora.Linear`` (parameters ``lora_A.default.weight``...), or with ``qkv_parts``
      the chosen thirds of a fused q/k/v linear (timm/CONCH ``qkv``) with ours (:class:`LoRALinear`).
    * ``nn.MultiheadAttention`` (open_clip ``attn``): ``in_proj_weight`` (optionally per part) and
      ``out_proj``, with ours (:class:`LoRAMultiheadAttention`): peft 0.21.2's ``lora.MultiheadAttention``
      applies the ``out_proj`` delta twice (peft PR #3774), so it is compared with a hand formula.

    Args:
        rank (int): LoRA rank. Defaults to 4.
        alpha (float, optional): Scaling numerator; ``None`` means ``alpha = rank`` (scaling 1, the seed
            notebook's "no scaling").
        dropout (float): Adapter input dropout (linears only). Defaults to 0.
        targets (list[str]): Module names (last component, e.g. ``'q_proj'``, ``'qkv'``, ``'attn'``) or
            full-name regexes. Defaults to HF CLIP's attention projections ``['q_proj', 'k_proj', 'v_proj']``.
        qkv_parts (list[str], optional): Adapt only these of ``('q', 'k', 'v')`` in fused projections
            (``qkv`` linears, ``in_proj_weight``). ``None`` adapts the whole fused weight (peft's behaviour).
        out_proj (bool): For ``nn.MultiheadAttention`` targets, also adapt ``out_proj``. Defaults to True.
    """

    def __init__(self, rank: int = 4, alpha: Optional[float] = None, dropout: float = 0.,
                 targets: Sequence[str] = ('q_proj', 'k_proj', 'v_proj'), qkv_parts: Optional[Sequence[str]] = None,
                 out_proj: bool = True):
        if not isinstance(rank, int) or rank <= 0:
            raise ValueError(f'LoRA rank must be a positive integer, got {rank!r}')
        if alpha is not None and not (isinstance(alpha, (int, float)) and alpha > 0):
            # alpha=0 zeroes the adapter's output and its gradient into lora_A, so lora_B stays 0: nothing trains.
            raise ValueError(f'LoRA alpha must be positive (scaling = alpha / rank), got {alpha!r}')
        self.rank, self.alpha, self.dropout = rank, float(rank if alpha is None else alpha), dropout
        self.targets = [targets] if isinstance(targets, str) else list(targets)
        self.qkv_parts = None if qkv_parts is None else tuple(qkv_parts)
        self.out_proj = out_proj

    def apply(self, module: nn.Module) -> List[str]:
        names = match_modules(module, self.targets, (nn.Linear, nn.MultiheadAttention))
        mha = [n for n, m in module.named_modules() if isinstance(m, nn.MultiheadAttention)]
        inside = [n for n in names if any(n.startswith(m + '.') for m in mha)]
        if inside:
            raise ValueError(f'LoRA targets {self.targets} match {inside}, the out_proj of an '
                             'nn.MultiheadAttention, whose forward never calls it: target the attention module '
                             '(e.g. "attn"), which adapts in_proj_weight and out_proj.')
        if not names:
            raise ValueError(f'LoRA targets {self.targets} match no nn.Linear or nn.MultiheadAttention in '
                             f'{module.__class__.__name__}; its candidates are '
                             f'{candidate_names(module, (nn.Linear, nn.MultiheadAttention))} (or full-name '
                             'regexes). Set `peft[...].targets` in the config, or take `lora_qkv` from the model '
                             'base.')
        added = []
        for name in names:
            base = module.get_submodule(name)
            if isinstance(base, nn.MultiheadAttention):
                layer = LoRAMultiheadAttention(base, self.rank, self.alpha, self.dropout, self.qkv_parts,
                                               out_proj=self.out_proj)
            elif self.qkv_parts is None:  # HF peft's own layer: exact for a whole nn.Linear weight
                from peft import LoraConfig
                from peft.tuners.lora import Linear as PeftLoRALinear
                config = LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout)
                layer = PeftLoRALinear(base, PEFT_ADAPTER, config, r=self.rank, lora_alpha=self.alpha)
            else:  # per-part fused q/k/v: peft has no equivalent
                check_parts(self.qkv_parts, base.out_features, name)
                layer = LoRALinear(base, self.rank, self.alpha, self.dropout, self.qkv_parts)
            replace_module(module, name, layer)
            added += [f'{name}.{n}' for n, p in layer.named_parameters() if p.requires_grad]
        return added
