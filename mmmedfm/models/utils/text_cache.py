"""Disk cache of zero-shot class embeddings (:mod:`mmmedfm.cache` format and text key).

Loading a text tower and encoding the prompt ensemble costs seconds to minutes on CPU; the result is a
``(C, D)`` tensor, so repeated runs (sweeps over seeds, shots, adapters) read it from ``{cache_dir}/class_{key}/``
(key: :func:`~mmmedfm.cache.text_cache_key` of the encoder config + weights fingerprint and the prompts).
"""
import logging
import os.path as osp
import shutil
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from mmmedfm.cache import ShardedArrays, is_complete, text_cache_key, write_shards
from mmmedfm.registry import MODELS
from .zero_shot import build_zero_shot_weights


def class_cache_folder(text_encoder: dict, class_prompts: Sequence[Sequence[str]], cache_dir: str) -> str:
    """Folder of the class embeddings of ``class_prompts`` under ``text_encoder``."""
    return osp.join(cache_dir, 'class_' + text_cache_key(text_encoder, class_prompts, kind='class'))


def read_class_cache(folder: str, num_classes: int) -> Tuple[torch.Tensor, Optional[float]]:
    """``((C, D) class embeddings, logit scale)`` from a class cache folder, checked: ``C == num_classes``,
    finite values, a numeric (or null) ``logit_scale`` in ``index.json``.

    Raises:
        ValueError / KeyError: the cache is corrupt or has another shape (names the folder).
    """
    cache = ShardedArrays(folder)
    weights = cache.load('class_embeddings')
    if weights.ndim != 2 or len(weights) != num_classes or not torch.isfinite(weights).all():
        raise ValueError(f'{folder}: class_embeddings of shape {tuple(weights.shape)} (finite: '
                         f'{bool(torch.isfinite(weights).all())}), expected ({num_classes}, D) finite values')
    scale = cache.index.get('logit_scale', 'missing')
    if scale is not None and not isinstance(scale, (int, float)):
        raise ValueError(f'{folder}: index.json logit_scale is {scale!r}, expected a number or null')
    return weights, None if scale is None else float(scale)


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
        try:
            weights, scale = read_class_cache(folder, len(class_prompts))
            print_log(f'[text cache] hit: {folder}', logger='current')
            return weights, scale
        except (ValueError, KeyError, OSError) as e:
            print_log(f'[text cache] {folder} is unusable ({e}); rebuilding it.', logger='current',
                      level=logging.WARNING)
            shutil.rmtree(folder)  # finished shards would otherwise be kept by write_shards
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
