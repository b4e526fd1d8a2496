"""Unimodal embeddings of image–caption pairs (frozen vision and text encoders): what ``AdaptorVL`` trains on.

Two caches in the :mod:`mmmedfm.cache` shard format, found by :func:`~mmmedfm.cache.pair_cache_folders`:

* ``{cache_dir}/image_{key}/``: ``pooled (n, D_v)`` and optionally ``tokens (n, T, D_v)`` (patch tokens), fp16.
  Key: :func:`~mmmedfm.cache.image_cache_key` (vision config, weights fingerprint, preprocessor, test pipeline,
  sorted (file, label) list, patch-token flag), so a new text encoder never re-encodes images.
* ``{cache_dir}/text_{key}/``: ``tokens (m, L, D_t)``, ``mask (m, L)`` (uint8) and ``pooled (m, D_t)`` of the
  unique captions. Key: :func:`~mmmedfm.cache.text_cache_key` (text encoder + weights, ``max_length``, captions).

Extraction is resumable and distributed (see :func:`~mmmedfm.cache.write_shards`).
"""
from typing import Dict, Optional, Sequence, Union

from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmmedfm.cache import ShardedArrays, pair_cache_folders, source_items, text_folder, unimodal_settings
from mmmedfm.cache.pairs import PAIR_DTYPE, unique_captions
from mmmedfm.models.utils.hub import weight_keys
from mmmedfm.utils.cli import as_config
from .extraction import encode_images, encode_texts



def unimodal_keys(u: dict) -> Dict[str, str]:
    """``{weight path: config key}`` of the adaptor's frozen encoders (for :func:`weight_keys`)."""
    return {(u.get(name) or {}).get('pretrained'): f'unimodal.{name}.pretrained' for name in ('vision', 'text')}


def encode_texts_cached(text: dict, texts: Sequence[str], cache_dir: str, max_length: int = 64,
                        shard_size: int = 4096, device: Optional[str] = None, rank: int = 0, world_size: int = 1,
                        progress: bool = True) -> ShardedArrays:
    """Token embeddings of ``texts`` (deduplicated, sorted) in ``{cache_dir}/text_{key}``, encoded if missing."""
    captions = sorted(set(texts))
    u = dict(text=text, cache_dir=cache_dir, max_length=max_length)
    with weight_keys(unimodal_keys(dict(text=text))):
        return ShardedArrays(encode_texts(text, captions, text_folder(u, captions), max_length,
                                          shard_size=shard_size, device=device, rank=rank, world_size=world_size,
                                          progress=progress))


def extract_unimodal(cfg: Union[Config, str], split: str, batch_size: int = 64, device: Optional[str] = None,
                     rank: int = 0, world_size: int = 1, progress: bool = True) -> Dict[str, str]:
    """Encode the images and captions of ``{split}_dataloader.dataset.source`` into the unimodal caches.

    The dataset of ``{split}_dataloader`` is a :class:`~mmmedfm.datasets.CachedPairDataset` config whose
    ``source`` is the image dataset (e.g. ``PatchGastricDataset``, which gives each patch its slide's caption);
    images go through ``source.pipeline`` (deterministic, test-time) and ``unimodal.data_preprocessor``.

    Returns:
        dict: ``{'image': folder, 'text': folder}``.
    """
    from mmmedfm.registry import DATASETS
    cfg = as_config(cfg)
    init_default_scope(cfg.get('default_scope', 'mmmedfm'))
    loader = cfg[f'{split}_dataloader']
    ds = Config(loader['dataset']).to_dict()
    # The dataset's own `unimodal` keys the cache it will read, so extraction uses exactly that one.
    u = unimodal_settings(dict(unimodal=ds.get('unimodal') or cfg.get('unimodal')))
    if 'source' not in ds:
        raise KeyError(f'`{split}_dataloader.dataset.source` is missing (the image–caption dataset to encode).')
    source_cfg = dict(ds['source'])
    if source_cfg.get('pipeline') is None:
        raise KeyError(f'`{split}_dataloader.dataset.source.pipeline` is missing (the test-time image pipeline).')
    source = DATASETS.build(source_cfg)
    items = source_items(source)
    folders = pair_cache_folders(u, items, source_cfg['pipeline'])
    meta = dict(image_ids=[it['img_path'] for it in items], labels=[it['gt_label'] for it in items],
                wsi_ids=[it['wsi_id'] for it in items], classes=[str(c) for c in source.metainfo.get('classes', ())],
                vision=u['vision'], patch_tokens=u['patch_tokens'])
    with weight_keys(unimodal_keys(u)):
        encode_images(source, u['vision'], u['data_preprocessor'], folders['image'], meta, u['patch_tokens'],
                      PAIR_DTYPE, batch_size, int(loader.get('num_workers', 0)), u['shard_size'], device, rank,
                      world_size, progress, f'{split} images')
        encode_texts(u['text'], unique_captions(items), folders['text'], u['max_length'],
                     shard_size=u['shard_size'], device=device, rank=rank, world_size=world_size, progress=progress)
    return folders
