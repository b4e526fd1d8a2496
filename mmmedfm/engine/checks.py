"""Checks run before training starts, so that a run that cannot learn fails at once with the config key to fix."""
from mmengine.model import is_model_wrapper
from torch import nn


def _trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad) if isinstance(module, nn.Module) else 0


def check_trainable(model: nn.Module, model_cfg: dict) -> None:
    """Refuse a model with no trainable parameter (it would end in an autograd error, or train nothing).

    Args:
        model (nn.Module): The built model (or its DDP wrapper).
        model_cfg (dict): ``cfg.model``, to name the settings that froze each part.

    Raises:
        ValueError: 0 trainable parameters; names ``model.backbone.peft`` and the neck/head settings.
    """
    model = model.module if is_model_wrapper(model) else model
    if _trainable(model):
        return
    parts = []
    backbone = model_cfg.get('backbone') or {}
    if 'peft' in backbone:
        parts.append(f'model.backbone.peft={backbone["peft"]!r} leaves the backbone frozen')
    else:
        parts.append(f'model.backbone ({backbone.get("type")}) has no trainable parameter')
    if model_cfg.get('neck'):
        parts.append(f'model.neck ({model_cfg["neck"].get("type")}) has none')
    head = model_cfg.get('head') or {}
    flags = ', '.join(f'{k}={head[k]}' for k in ('trainable_embeddings', 'learnable_scale') if k in head)
    parts.append(f'model.head ({head.get("type")}{": " + flags if flags else ""}) has none')
    raise ValueError(f'Nothing to train: the model has 0 trainable parameters ({"; ".join(parts)}). Add a PEFT '
                     "method to model.backbone.peft (e.g. [dict(type='LoRA')]) or make the head trainable "
                     '(model.head.trainable_embeddings=True).')


def refuse_untrained(model: nn.Module, config: str) -> None:
    """``tools/test.py CONFIG`` without a checkpoint: refuse a model with trainable parameters (it would report
    the metrics of an untrained model as if it were the experiment). Zero-shot configs freeze everything.

    Raises:
        ValueError: names the config and the number of trainable parameters.
    """
    model = model.module if is_model_wrapper(model) else model
    n = _trainable(model)
    if n:
        raise ValueError(f'{config} trains {n:,} parameters but no checkpoint was given: this would evaluate the '
                         'untrained model. Pass the checkpoint (tools/test.py CONFIG CHECKPOINT), or --untrained '
                         'to evaluate the model as built.')
