"""Frozen image embeddings of a config's dataset split, cached on disk (:mod:`mmmedfm.cache` format).

Black-box adapters and sweeps read these instead of re-encoding images. The cache key
(:func:`~mmmedfm.cache.image_cache_key`) covers everything that changes the numbers: backbone config (incl. the
pretrained id/path), a fingerprint of the weight files, the preprocessor, the test pipeline and the sorted
(file, label) list of the split.
"""
import contextlib
import inspect
import os.path as osp
import time
from typing import Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.logging import print_log

from mmmedfm.cache import FeatureSet, image_cache_key, is_complete
from mmmedfm.datasets.seeded_augment import seeded_rng
from mmmedfm.models.classifiers.vlm_classifier import fill_foundation_model, part_weight_keys
from mmmedfm.models.utils.hub import weight_keys
from mmmedfm.models.heads.text_embedding_head import resolve_prompts
from mmmedfm.models.utils.text_cache import cached_class_embeddings
from mmmedfm.utils.cli import as_config
from .extraction import encode_images

SPLITS = ('train', 'val', 'test')
DEFAULT_TEXT_CACHE = 'work_dirs/text_embedding_cache'


def _build_dataset(cfg: Config, split: str, pipeline: Optional[list] = None):
    from mmmedfm.registry import DATASETS
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    key = f'{split}_dataloader'
    if key not in cfg or cfg[key] is None:
        raise KeyError(f'The config has no `{key}`; cannot extract the {split!r} split.')
    ds_cfg = Config(cfg[key]['dataset']).to_dict()
    # Frozen features are deterministic: every split goes through the test pipeline (augmented views: theirs).
    ds_cfg['pipeline'] = Config(dict(pipeline=pipeline)).to_dict()['pipeline'] if pipeline is not None else \
        Config(cfg.test_dataloader['dataset']).to_dict()['pipeline']
    return DATASETS.build(ds_cfg), ds_cfg['pipeline']


def _model_parts(cfg: Config) -> Tuple[dict, dict]:
    model = fill_foundation_model(Config(cfg.model).to_dict())
    backbone = dict(model['backbone'])
    backbone.pop('peft', None)  # features of the pretrained, frozen tower
    pre = dict(model.get('data_preprocessor') or dict(type='mmpretrain.ClsDataPreprocessor'))
    return backbone, pre


def _part_keys(cfg: Config) -> dict:
    return {path: key for key, path in part_weight_keys(Config(cfg.model).to_dict()).values()}


def extract_features(cfg: Union[Config, str], split: str, cache_dir: str = 'work_dirs/feature_cache',
                     batch_size: int = 64, device: Optional[str] = None, progress: bool = True,
                     view: Optional[dict] = None) -> FeatureSet:
    """Frozen, L2-normalised image embeddings of ``split`` (``train``/``val``/``test``), from cache if present.

    The backbone is built from ``cfg.model`` (``foundation_model`` filled in, ``peft`` dropped) and run in
    eval mode under ``torch.no_grad`` (bf16 autocast on CUDA) by :func:`~mmmedfm.apis.extraction.encode_images`;
    images go through the config's test pipeline and data preprocessor. A second call with the same inputs
    returns the cached set (logged).

    Args:
        cfg: Config or config path.
        split: ``'train'``, ``'val'`` or ``'test'`` (the ``{split}_dataloader.dataset``).
        cache_dir: Parent of the ``{split}_{key}/`` cache folders. Defaults to ``work_dirs/feature_cache``.
        batch_size: Images per forward pass. Defaults to 64.
        device: ``'cuda'``/``'cpu'``...; ``None``: MMEngine's device (this rank's GPU when available).
        progress: Show a progress bar.
        view: One augmented view instead of the test pipeline: ``dict(pipeline=[...], seed=int)``; the
            pipeline runs in this process with the python/numpy/torch RNGs seeded with ``seed`` (restored
            afterwards), so a view is reproducible and cached under its own key.

    Returns:
        FeatureSet: in dataset order.
    """
    cfg = as_config(cfg)
    init_default_scope(cfg.get('default_scope', 'mmmedfm'))
    dataset, pipeline = _build_dataset(cfg, split, view['pipeline'] if view else None)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    image_ids = [str(info['img_path']) for info in infos]
    labels = [int(info.get('gt_label', -1)) for info in infos]
    backbone_cfg, pre_cfg = _model_parts(cfg)
    key = image_cache_key(backbone_cfg, pre_cfg, pipeline + ([dict(view_seed=view['seed'])] if view else []),
                          zip(image_ids, labels))
    folder = osp.join(cache_dir, f'{split}_{key}')
    hit, start = is_complete(folder), time.perf_counter()
    meta = dict(image_ids=image_ids, labels=labels, wsi_ids=[str(info.get('wsi_id', '') or '') for info in infos],
                classes=[str(c) for c in dataset.metainfo.get('classes', ())],
                meta=dict(key=key, split=split, backbone=backbone_cfg))
    num_workers = 0 if view else int(cfg[f'{split}_dataloader'].get('num_workers', 0))
    with weight_keys(_part_keys(cfg)), (seeded_rng(view['seed']) if view else contextlib.nullcontext()):
        encode_images(dataset, backbone_cfg, pre_cfg, folder, meta, batch_size=batch_size,
                      num_workers=num_workers, device=device, progress=progress, desc=f'extract {split}')
    if not hit:
        seconds = time.perf_counter() - start
        print_log(f'[feature cache] miss: encoded {len(image_ids)} images in {seconds:.1f}s '
                  f'({len(image_ids) / max(seconds, 1e-9):.1f} img/s) -> {folder}', logger='current')
    cached = FeatureSet.load(folder)
    return cached if cached.image_ids == image_ids else cached.reordered(image_ids)


def extract_views(cfg: Union[Config, str], split: str, pipeline: list, num_views: int, seed: int = 0,
                  cache_dir: str = 'work_dirs/feature_cache', **kwargs) -> torch.Tensor:
    """``(num_views, N, D)`` L2-normalised embeddings of ``num_views`` augmented views of ``split`` (dataset
    order), each through ``pipeline`` (an augmenting transform list) seeded with ``seed * 1000 + v`` and cached
    like :func:`extract_features` (Tip-Adapter's ``augment_epoch`` cache keys, CLAP's augmented support)."""
    return torch.stack([extract_features(cfg, split, cache_dir, view=dict(pipeline=list(pipeline),
                                                                          seed=seed * 1000 + v), **kwargs).features
                        for v in range(num_views)])


def zero_shot_classifier(cfg: Union[Config, str]) -> Tuple[torch.Tensor, float]:
    """Zero-shot class weights of ``cfg.model.head`` (its ``text_encoder`` + ``prompts``), disk-cached.

    Returns:
        ``((C, D) unit-norm tensor, logit_scale)``; the scale is ``head.logit_scale`` if set, else the
        encoder's (CLIP: ``logit_scale.exp()``), else 100.
    """
    cfg = as_config(cfg)
    init_default_scope(cfg.get('default_scope', 'mmmedfm'))
    head = fill_foundation_model(Config(cfg.model).to_dict()).get('head') or {}
    if 'text_encoder' not in head or 'prompts' not in head:
        raise KeyError('`model.head` needs `text_encoder` and `prompts` to build a zero-shot classifier.')
    _, class_prompts = resolve_prompts(head['prompts'])
    with weight_keys(_part_keys(cfg)):
        weights, scale = cached_class_embeddings(head['text_encoder'], class_prompts,
                                                 head.get('cache_dir', DEFAULT_TEXT_CACHE))
    if head.get('logit_scale') is not None:
        scale = head['logit_scale']
    return weights, float(100. if scale is None else scale)


@torch.no_grad()
def class_text_anchors(cfg: Union[Config, str]) -> Optional[torch.Tensor]:
    """CLAP's text anchors: ``(C, D)`` raw (un-normalised) template-mean text embeddings of ``cfg.model.head``.

    Not cached (one pass of the text tower over the prompts). Returns ``None`` when the head's text encoder
    cannot return un-normalised embeddings (its ``encode`` has no ``normalize`` argument).
    """
    from mmmedfm.registry import MODELS
    cfg = as_config(cfg)
    init_default_scope(cfg.get('default_scope', 'mmmedfm'))
    head = fill_foundation_model(Config(cfg.model).to_dict()).get('head') or {}
    if 'text_encoder' not in head or 'prompts' not in head:
        return None
    _, class_prompts = resolve_prompts(head['prompts'])
    encoder = MODELS.build(head['text_encoder'])
    if 'normalize' not in inspect.signature(encoder.encode).parameters:
        return None
    emb = encoder.encode([p for prompts in class_prompts for p in prompts], normalize=False).float()
    sizes = [len(p) for p in class_prompts]
    return torch.stack([chunk.mean(0) for chunk in emb.split(sizes)])
