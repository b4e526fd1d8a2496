"""Config-driven PEFT, applied while the model is built (MMEngine builds the optimizer and DDP wrapper
before any hook runs, so freezing and adapter injection cannot wait for a hook)."""
from typing import Dict, List, Optional

from mmengine.logging import print_log
from torch import nn

from mmmedfm.registry import MODELS


def count_parameters(module: nn.Module) -> Dict[str, int]:
    """Return ``{'trainable': n, 'total': n}`` parameter counts."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return dict(trainable=trainable, total=total)


def apply_peft(module: nn.Module, cfgs: Optional[List[dict]]) -> Optional[Dict[str, dict]]:
    """Freeze ``module`` and apply each PEFT method in ``cfgs`` in order.

    Args:
        module: The backbone (or any tower) to adapt, in place.
        cfgs: PEFT method configs, e.g. ``[dict(type='LoRA', rank=4, targets=['q_proj', 'v_proj']),
            dict(type='BitFit')]``. ``None`` leaves the module untouched (all trainable). ``[]`` freezes it.

    Returns:
        ``None`` when ``cfgs`` is ``None``; otherwise ``{method_type: {'params': n, 'names': [...]}}``, the
        trainable parameters each method enabled or added. Counts are also logged.
    """
    if cfgs is None:
        return None
    if isinstance(cfgs, dict):
        cfgs = [cfgs]
    module.requires_grad_(False)
    summary = {}
    for cfg in cfgs:
        method = MODELS.build(dict(cfg))
        names = method.apply(module)
        params = dict(module.named_parameters())
        summary[cfg['type']] = dict(params=sum(params[n].numel() for n in names), names=names)
    counts = count_parameters(module)
    groups = ', '.join(f"{k}: {v['params']:,}" for k, v in summary.items()) or 'none (frozen)'
    print_log(f'[PEFT] {module.__class__.__name__}: trainable {counts["trainable"]:,} / {counts["total"]:,} '
              f'params ({100. * counts["trainable"] / max(counts["total"], 1):.3f}%) -- {groups}',
              logger='current')
    return summary
