"""PEFT as a property of the model build: ``peft=[...]`` in any tower config is popped before the tower is
built and applied right after, before MMEngine wraps the model in DDP and builds the optimizer (both happen
before any hook runs, so freezing and adapter injection cannot wait for a hook).

Spellings: no ``peft`` key (or ``peft=None``) leaves the tower as built, i.e. fully fine-tuned; ``peft=[]``
freezes it; ``peft=[m1, m2]`` freezes it and then lets each method enable or add trainable parameters.
"""
import copy
from typing import Dict, List, Optional, Union

from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.registry import Registry
from torch import nn

from mmmedfm.registry import MODELS, PEFT_METHODS

_REMOVED = {'FullFineTune': 'full fine-tuning is the tower without PEFT: drop the `peft` key or set `peft=None`.'}


def count_parameters(module: nn.Module) -> Dict[str, int]:
    """Return ``{'trainable': n, 'total': n}`` parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return dict(trainable=trainable, total=total)


def build_peft_method(cfg: dict):
    """Build one PEFT method from the :data:`PEFT_METHODS` registry, with a clear error for removed names."""
    name = cfg.get('type') if isinstance(cfg, dict) else None
    if name in _REMOVED:
        raise ValueError(f'peft method {name!r} no longer exists: {_REMOVED[name]}')
    if not isinstance(name, str) or PEFT_METHODS.get(name) is None:
        raise KeyError(f'peft entry {cfg!r}: unknown method; registered methods: {sorted(PEFT_METHODS.module_dict)}')
    return PEFT_METHODS.build(dict(cfg))


def apply_peft(module: nn.Module, cfgs: Optional[Union[dict, List[dict]]]) -> Optional[Dict[str, dict]]:
    """Freeze ``module`` and apply each PEFT method in ``cfgs`` in order.

    Args:
        module: The tower to adapt, in place (any ``nn.Module``: ours, mmpretrain's, timm's, a text tower).
        cfgs: PEFT method configs, e.g. ``[dict(type='LoRA', rank=4, targets=['q_proj', 'v_proj']),
            dict(type='BitFit')]``. ``None`` leaves the module untouched (full fine-tuning); ``[]`` freezes it.

    Returns:
        ``None`` when ``cfgs`` is ``None``; otherwise ``{method_type: {'params': n, 'names': [...]}}``, the
        trainable parameters each method enabled or added. Counts are also logged.
    """
    if cfgs is None:
        return None
    if isinstance(cfgs, dict):
        cfgs = [cfgs]
    methods = [build_peft_method(cfg) for cfg in cfgs]  # validate every entry before touching the module
    module.requires_grad_(False)
    summary = {}
    for cfg, method in zip(cfgs, methods):
        names = method.apply(module)
        params = dict(module.named_parameters())
        summary[cfg['type']] = dict(params=sum(params[n].numel() for n in names), names=names)
    counts = count_parameters(module)
    groups = ', '.join(f"{k}: {v['params']:,}" for k, v in summary.items()) or 'none (frozen)'
    print_log(f'[PEFT] {module.__class__.__name__}: trainable {counts["trainable"]:,} / {counts["total"]:,} '
              f'params ({100. * counts["trainable"] / max(counts["total"], 1):.3f}%) -- {groups}',
              logger='current')
    return summary


def build_tower(cfg: Union[dict, nn.Module], registry: Registry = MODELS) -> nn.Module:
    """Build a tower from ``cfg`` and apply its ``peft`` entry (see the module doc); modules pass through.

    The tower's own ``init_weights`` (mmpretrain's ``init_cfg``, e.g. a ``Pretrained`` checkpoint) runs before
    the adapters are injected, then the tower is marked initialised: run later by the Runner, it would load
    the checkpoint under the pre-injection key names (silently missing the adapted layers) and re-initialise
    the adapters' own ``nn.Linear`` layers.
    """
    if isinstance(cfg, nn.Module):
        return cfg
    cfg = copy.deepcopy(dict(cfg))
    peft = cfg.pop('peft', None)
    tower = registry.build(cfg)
    if peft is not None:
        if isinstance(tower, BaseModule) and not tower.is_init:
            tower.init_weights()
        tower.peft_summary = apply_peft(tower, peft)
    return tower
