"""Disk cache of zero-shot class embeddings (:mod:`mmmedfm.cache` format and text key).

Loading a text tower and encoding the prompt ensemble costs seconds to minutes on CPU; the result is a
``(C, D)`` tensor, so repeated runs (sweeps over seeds, shots, adapters) read it from ``{cache_dir}/class_{key}/``
(key: :func:`~mmmedfm.cache.text_cache_key` of the encoder config + weights fingerprint and the prompts).
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from mmmedfm.cache import ShardedArrays, is_complete, text_cache_key, write_shards
from mmmedfm.registry import MODELS
from .zero_shot import build_zero_shot_weights


def class_cache_folder(text_encoder: dict, class_prompts: Sequence[Sequence[str]], cache_dir: str) -> str:
    """Folder of the class embeddings of ``class_prompts`` under ``text_encoder``."""
    return osp.join(cache_dir, 'class_' + text_cache_key(text_encoder, class_prompts, kind='class'))


def cached_class_embeddings(text_encoder: dict, class_prompts: Sequence[Sequence[str]],
                            cache_dir: Optional[str] = None) -> Tuple[torch.Tensor, Optional[float]]:
    """Zero-shot class embeddings (prompt-ensemble mean, re-normalised) and the encoder's logit scale.

    Args:
        text_encoder (dict): Config of a text encoder with ``encode(list[str]) -> (N, D)`` and optionally
            ``logit_scale``; built only on a cache miss.
        class_prompts: ``C`` prompt lists (see :func:`build_class_prompts`).
        cache_dir (str, optional): Parent of the ``class_{key}/`` folders; ``None`` disables the cache.

    Returns:
        ``((C, D) unit-norm float32 tensor, logit_scale or None when the encoder has none)``.
    """
    if text_encoder.get('peft') is not None:
        raise ValueError(f'head.text_encoder.peft={text_encoder["peft"]!r}: this head encodes the class prompts once, '
                         'without gradients, so PEFT on its text tower would never train; remove the key.')
    folder = class_cache_folder(text_encoder, class_prompts, cache_dir) if cache_dir else None
    if folder and is_complete(folder):
        cache = ShardedArrays(folder)
        print_log(f'[text cache] hit: {folder}', logger='current')
        return cache.load('class_embeddings'), cache.index['logit_scale']
    encoder = MODELS.build(text_encoder)
    weights = build_zero_shot_weights(encoder.encode, class_prompts).contiguous()
    scale = getattr(encoder, 'logit_scale', None)
    scale = None if scale is None else float(scale)
    if folder:
        write_shards(folder, len(weights), lambda start, stop: dict(class_embeddings=weights[start:stop].float()),
                     dict(logit_scale=scale, encoder=dict(text_encoder), prompts=[list(p) for p in class_prompts]),
                     shard_size=max(1, len(weights)), desc='class embeddings')
        print_log(f'[text cache] miss: encoded {sum(map(len, class_prompts))} prompts -> {folder}',
                  logger='current')
    return weights, scale
