"""Trainable-only checkpoints: save the parameters PEFT trains (plus buffers), rebuild the rest from the
pretrained weights the constructor loads, and refuse checkpoints that do not fit the model, naming why."""
import json
import re
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

_LORA_KEY = re.compile(r'\.lora_[AB]\.')


def plain(obj):
    """``obj`` (configs, tuples...) as JSON types, so checkpoint meta loads with ``weights_only=True``."""
    return json.loads(json.dumps(obj, default=str))


def trainable_keys(model: nn.Module) -> set:
    """State-dict keys of the parameters that require grad (shared/tied names included) and of all buffers."""
    keys = {n for n, p in model.named_parameters(remove_duplicate=False) if p.requires_grad}
    return keys | {n for n, _ in model.named_buffers(remove_duplicate=False)}


def trainable_state_dict(model: nn.Module, state_dict: Dict[str, torch.Tensor]) -> Tuple[OrderedDict, List[str]]:
    """Split ``state_dict`` (of ``model``) into the trainable part and the names of the frozen keys dropped."""
    keep = trainable_keys(model)
    kept = OrderedDict((k, v) for k, v in state_dict.items() if k in keep)
    return kept, [k for k in state_dict if k not in keep]


def _rank_hint(key: str, ckpt: torch.Tensor, ours: torch.Tensor) -> str:
    if not _LORA_KEY.search(key):
        return ''
    dim = 0 if '.lora_A.' in key else 1
    return f' (LoRA rank mismatch: checkpoint rank {ckpt.shape[dim]}, model rank {ours.shape[dim]})'


def complete_state_dict(model: nn.Module, state_dict: Dict[str, torch.Tensor], source: str = 'checkpoint'
                        ) -> OrderedDict:
    """Return a full state dict for ``model``: ``state_dict`` on top of the model's current (pretrained)
    tensors for the keys it lacks.

    Keys of frozen parameters may be missing (trainable-only checkpoints); everything else must fit. Key
    prefixes (DDP's ``module.``) are revised by MMEngine's loader before this runs (:func:`load_trainable`).

    Raises:
        KeyError: keys the model does not have, or trainable parameters the checkpoint lacks.
        ValueError: shape mismatches (with the LoRA ranks when an adapter's shape differs).
    """
    ours = model.state_dict()
    unexpected = [k for k in state_dict if k not in ours]
    if unexpected:
        hint = ''
        if any(_LORA_KEY.search(k) for k in unexpected):
            hint = ' The checkpoint has LoRA weights the model lacks: use the PEFT config it was trained with.'
        elif any(k.replace('.base_layer.', '.') != k for k in ours if k not in state_dict):
            hint = ' The model has LoRA layers the checkpoint lacks (a merged checkpoint needs a model without LoRA).'
        raise KeyError(f'{source}: {len(unexpected)} keys not in the model, e.g. {unexpected[:5]}.{hint}')
    bad = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(ours[k].shape)}{_rank_hint(k, v, ours[k])}'
           for k, v in state_dict.items() if v.shape != ours[k].shape]
    if bad:
        raise ValueError(f'{source}: shape mismatch for {len(bad)} keys: ' + '; '.join(bad[:5]))
    need = {n for n, p in model.named_parameters(remove_duplicate=False) if p.requires_grad}
    missing = sorted(k for k in need if k not in state_dict)
    if missing:
        raise KeyError(f'{source}: {len(missing)} trainable parameters missing, e.g. {missing[:5]} (the '
                       'checkpoint was trained with a different PEFT config?)')
    full = OrderedDict((k, state_dict.get(k, v)) for k, v in ours.items())
    full._metadata = getattr(state_dict, '_metadata', None) or getattr(ours, '_metadata', None)
    return full


def merged_state_dict(model: nn.Module) -> OrderedDict:
    """State dict of ``model`` with its LoRA adapters merged and plain (pre-LoRA) key names, loadable into the
    same model built without LoRA. Merges ``model`` in place."""
    from .lora import merge_lora
    merge_lora(model)
    return OrderedDict((k.replace('.base_layer.', '.'), v.detach().cpu()) for k, v in model.state_dict().items()
                       if not _LORA_KEY.search(k))


# MMEngine's own default: checkpoints written from a DDP-wrapped model carry a ``module.`` prefix.
DDP_PREFIX = ((r'^module\.', ''),)


def load_trainable(model: nn.Module, filename: str, revise_keys: Sequence[Tuple[str, str]] = DDP_PREFIX
                   ) -> Tuple[dict, List[str]]:
    """Load ``filename`` into ``model`` with MMEngine's ``load_checkpoint`` (weights-only reading, strict,
    ``revise_keys``), completed by :func:`complete_state_dict`.

    MMEngine's loader cannot accept a trainable-only file strictly, and non-strict loading would accept another
    config's file with a warning; so a load pre-hook on ``model`` sees the state dict after MMEngine revised its
    keys, refuses a file that does not fit and fills the frozen keys from the model, and MMEngine then loads
    the complete dict strictly.

    Returns:
        tuple: ``(checkpoint, missing)``: the checkpoint dict as read and the frozen model keys that the file
        lacked (filled from the model).

    Raises:
        KeyError / ValueError: The checkpoint does not fit the model (names the file and the keys).
    """
    from mmengine.runner import load_checkpoint
    loaded = {}

    def complete(module, state_dict, prefix, *args):  # called once, on the root module (prefix '')
        if not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
            raise ValueError(f'{filename}: expected a state dict of tensors (or a dict with `state_dict`).')
        loaded['missing'] = [k for k in model.state_dict() if k not in state_dict]
        full = complete_state_dict(model, state_dict, filename)
        state_dict.clear()
        state_dict.update(full)

    handle = model.register_load_state_dict_pre_hook(complete)
    try:
        ckpt = load_checkpoint(model, filename, map_location='cpu', strict=True, revise_keys=list(revise_keys))
    finally:
        handle.remove()
    return ckpt, loaded['missing']
