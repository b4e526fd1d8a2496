"""Export/import LoRA adapters in HF peft's on-disk format (``adapter_config.json`` +
``adapter_model.safetensors``), so an adapter trained here loads with ``peft.PeftModel.from_pretrained``.

peft saves ``base_model.model.<module path>.lora_A.weight`` (adapter name removed). Our adapted layers use
peft's names, so the mapping is a prefix: ``prefix`` replaces the part of our module path that differs from
the HF model class the adapter will be loaded into. For :class:`HFCLIPVision` (``vision_model`` and
``visual_projection`` of a ``CLIPModel``) the paths are identical for ``CLIPModel``; transformers 5's
``CLIPVisionModel`` has no ``vision_model`` level, so that prefix is dropped for it.
"""
import json
import os
import os.path as osp
from typing import Dict, Optional

import torch
from torch import nn

from .lora import PEFT_ADAPTER, lora_layers, lora_rank_alpha

CONFIG_NAME, WEIGHTS_NAME = 'adapter_config.json', 'adapter_model.safetensors'
# Our path prefix -> the target class's path prefix.
HF_CLIP_PREFIXES = {'CLIPModel': ('', ''), 'CLIPVisionModel': ('vision_model.', '')}


def _target_prefix(base_model_class: str):
    if base_model_class not in HF_CLIP_PREFIXES:
        raise ValueError(f'base_model_class must be one of {list(HF_CLIP_PREFIXES)}, got {base_model_class!r}')
    return HF_CLIP_PREFIXES[base_model_class]


def _file_key(name: str) -> str:
    """peft's on-disk key of one of our state-dict keys: the adapter name is dropped."""
    return name.replace(f'.lora_A.{PEFT_ADAPTER}.', '.lora_A.').replace(f'.lora_B.{PEFT_ADAPTER}.', '.lora_B.')


def _adapters(module: nn.Module) -> Dict[str, nn.Module]:
    layers = lora_layers(module)
    # An nn.MultiheadAttention adapter holds its out_proj adapter; peft lists only the attention as target.
    layers = {n: m for n, m in layers.items() if not any(n.startswith(o + '.') for o in layers)}
    if not layers:
        raise ValueError(f'{module.__class__.__name__} has no LoRA layer to export.')
    for n, m in layers.items():
        if getattr(m, 'qkv_parts', None) is not None:
            raise ValueError(f'{n}: per-part LoRA (qkv_parts={m.qkv_parts}) has no HF peft equivalent; '
                             'only whole-weight adapters can be exported.')
    return layers


def export_peft_adapter(module: nn.Module, out_dir: str, base_model_class: str = 'CLIPModel',
                        base_model_name_or_path: Optional[str] = None) -> str:
    """Write ``module``'s LoRA adapters as a peft adapter directory.

    Args:
        module: A model with LoRA layers (e.g. :class:`HFCLIPVision`).
        out_dir: Output directory (created).
        base_model_class: HF class the adapter targets: ``'CLIPModel'`` or ``'CLIPVisionModel'``.
        base_model_name_or_path: Recorded in ``adapter_config.json`` (defaults to ``module.pretrained``).

    Returns:
        ``out_dir``.

    Raises:
        ValueError: no LoRA layer, per-part adapters, or ranks/alphas that differ between layers.
    """
    from peft import LoraConfig
    from safetensors.torch import save_file
    ours, theirs = _target_prefix(base_model_class)
    layers = _adapters(module)
    ranks = {lora_rank_alpha(m) for m in layers.values()}
    if len(ranks) != 1:
        raise ValueError(f'All LoRA layers must share rank/alpha to export, found {sorted(ranks)}')
    (rank, alpha), = ranks
    names = list(layers)
    if any(not n.startswith(ours) for n in names):
        raise ValueError(f'{base_model_class} has no module for {[n for n in names if not n.startswith(ours)]}')
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0., bias='none', inference_mode=True,
                        target_modules=[theirs + n[len(ours):] for n in names],
                        base_model_name_or_path=base_model_name_or_path or getattr(module, 'pretrained', None))
    tensors = {}
    for name, p in module.state_dict().items():
        if '.lora_A.' in name or '.lora_B.' in name:
            if not name.startswith(ours):
                continue
            tensors['base_model.model.' + theirs + _file_key(name)[len(ours):]] = p.detach().cpu().contiguous()
    os.makedirs(out_dir, exist_ok=True)
    config.save_pretrained(out_dir)
    save_file(tensors, osp.join(out_dir, WEIGHTS_NAME), metadata={'format': 'pt'})
    return out_dir


def load_peft_adapter(module: nn.Module, adapter_dir: str, base_model_class: str = 'CLIPModel') -> None:
    """Load a peft LoRA adapter directory into ``module``'s LoRA layers (built with the same targets/rank).

    Raises:
        ValueError: not a LoRA adapter, rank/alpha differ from the model's, or keys do not match (named).
    """
    from safetensors.torch import load_file
    ours, theirs = _target_prefix(base_model_class)
    cfg_path = osp.join(adapter_dir, CONFIG_NAME)
    if not osp.isfile(cfg_path):
        raise FileNotFoundError(f'{cfg_path} not found: not a peft adapter directory')
    with open(cfg_path) as f:
        cfg = json.load(f)
    if cfg.get('peft_type') != 'LORA':
        raise ValueError(f'{cfg_path}: peft_type {cfg.get("peft_type")!r} is not LORA')
    layers = _adapters(module)
    for n, m in layers.items():
        rank, alpha = lora_rank_alpha(m)
        if (rank, float(alpha)) != (cfg['r'], float(cfg['lora_alpha'])):
            raise ValueError(f'{cfg_path}: r={cfg["r"]}, lora_alpha={cfg["lora_alpha"]} but the model layer {n} '
                             f'has rank={rank}, alpha={alpha}; set the same LoRA rank/alpha in the config.')
    state = {}
    for key, t in load_file(osp.join(adapter_dir, WEIGHTS_NAME)).items():
        if not key.startswith('base_model.model.' + theirs):
            raise ValueError(f'{adapter_dir}: unexpected key {key!r} for {base_model_class}')
        state[ours + key[len('base_model.model.' + theirs):]] = t
    ours_keys = {_file_key(k): k for k in module.state_dict() if '.lora_A.' in k or '.lora_B.' in k}
    state = {ours_keys.get(k, k): t for k, t in state.items()}
    expected = set(ours_keys.values())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f'{adapter_dir} does not match the model: missing {missing[:5]}, '
                         f'unexpected {unexpected[:5]} (check LoRA targets)')
    with torch.no_grad():
        params = module.state_dict(keep_vars=True)
        for k, t in state.items():
            if params[k].shape != t.shape:
                raise ValueError(f'{adapter_dir}: {k} has shape {tuple(t.shape)}, model {tuple(params[k].shape)}')
            params[k].copy_(t)


__all__ = ['export_peft_adapter', 'load_peft_adapter']
