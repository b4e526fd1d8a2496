"""Disk cache of zero-shot class embeddings keyed by (text encoder config + weights fingerprint, prompts).

Loading a text tower and encoding the prompt ensemble costs seconds to minutes on CPU; the result is a
``(C, D)`` tensor, so repeated runs (sweeps over seeds, shots, adapters) read it from a safetensors file.
"""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from mmmedfm.registry import MODELS
from .fingerprint import stable_hash, weights_fingerprint
from .zero_shot import build_zero_shot_weights

# Keys that change how prompts are batched but never the embeddings.
_NON_SEMANTIC_KEYS = ('batch_size', )


def text_cache_key(text_encoder: dict, class_prompts: Sequence[Sequence[str]]) -> str:
    """Hash of the encoder config (minus batching), its weights fingerprint and the prompts."""
    cfg = {k: v for k, v in dict(text_encoder).items() if k not in _NON_SEMANTIC_KEYS}
    weights = weights_fingerprint(cfg['pretrained']) if cfg.get('pretrained') else ''
    return stable_hash(dict(encoder=cfg, weights=weights, prompts=[list(p) for p in class_prompts], v=1))


def cached_class_embeddings(text_encoder: dict, class_prompts: Sequence[Sequence[str]],
                            cache_dir: Optional[str] = None) -> Tuple[torch.Tensor, Optional[float]]:
    """Zero-shot class embeddings (prompt-ensemble mean, re-normalised) and the encoder's logit scale.

    Args:
        text_encoder (dict): Config of a text encoder with ``encode(list[str]) -> (N, D)`` and optionally
            ``logit_scale``; built only on a cache miss.
        class_prompts: ``C`` prompt lists (see :func:`build_class_prompts`).
        cache_dir (str, optional): Folder of ``{key}.safetensors`` files; ``None`` disables the cache.

    Returns:
        ``((C, D) unit-norm float32 tensor, logit_scale or None when the encoder has none)``.
    """
    if text_encoder.get('peft') is not None:
        raise ValueError(f'head.text_encoder.peft={text_encoder["peft"]!r}: this head encodes the class prompts once, '
                         'without gradients, so PEFT on its text tower would never train; remove the key.')
    path = None
    if cache_dir:
        path = osp.join(cache_dir, text_cache_key(text_encoder, class_prompts) + '.safetensors')
        if osp.isfile(path):
            from safetensors import safe_open
            with safe_open(path, framework='pt') as f:
                weights, meta = f.get_tensor('class_embeddings'), f.metadata()
            print_log(f'[text cache] hit: {path}', logger='current')
            scale = json.loads(meta['logit_scale'])
            return weights, scale
    encoder = MODELS.build(text_encoder)
    weights = build_zero_shot_weights(encoder.encode, class_prompts).contiguous()
    scale = getattr(encoder, 'logit_scale', None)
    scale = None if scale is None else float(scale)
    if path:
        from safetensors.torch import save_file
        os.makedirs(cache_dir, exist_ok=True)
        tmp = path + f'.tmp{os.getpid()}'
        save_file({'class_embeddings': weights}, tmp,
                  metadata=dict(logit_scale=json.dumps(scale), encoder=json.dumps(dict(text_encoder), default=str),
                                prompts=json.dumps([list(p) for p in class_prompts])))
        os.replace(tmp, path)  # atomic: a concurrent reader never sees a half-written file
        print_log(f'[text cache] miss: encoded {sum(map(len, class_prompts))} prompts -> {path}',
                  logger='current')
    return weights, scale
