"""Datasets that read decoded, resized images from a :class:`DecodedImageCache` instead of JPEGs.

:class:`DecodedCacheMixin` gives every dataset of the package (through :class:`FewShotMixin`) the config keys
``cache_decoded``, ``decoded_cache_dir``, ``decoded_cache_workers`` and ``decoded_resize``;
:class:`DecodedCacheDataset` wraps any other MMEngine dataset. The pipeline is split by
:func:`split_pipeline`: its deterministic head (loading + any resize / crop written in the pipeline) fills the
cache once, followed by the model's own resize (``decoded_resize``; the tools fill it from
``model.data_preprocessor.resize``, see :func:`share_model_resize`) when nothing but packing follows the head
(:func:`resize_to_cache`); the rest (random flips, quarter turns, colour jitter, ``PackInputs``) runs per
sample on the cached array, so a sample equals the JPEG path's sample for the same random draws, and the data
preprocessor's resize finds the image already at its size (a no-op).
"""
import copy
from typing import Optional, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmmedfm.registry import DATASETS
from .decoded_cache import DecodedImageCache, open_decoded_cache, resize_to_cache, split_pipeline

DEFAULT_CACHE_DIR = 'work_dirs/decoded_cache'


def fill_from_cache(info: dict, cache: DecodedImageCache) -> dict:
    """``info`` (a data info with ``img_path``) plus the cached head results: ``img`` and e.g. ``img_shape``,
    ``ori_shape``, ``scale_factor`` as the JPEG path sets them (tuples)."""
    img, extra = cache.get(info['img_path'])
    for key, value in extra.items():
        info[key] = tuple(value) if isinstance(value, list) else value
    info['img'] = img
    return info


def _head_and_rest(pipeline_cfg, built):
    """Head configs (for the key) and the already-built transforms of the rest."""
    head, rest = split_pipeline(pipeline_cfg or built)
    return head, list(built[len(head):])


def _open(infos, pipeline_cfg, built, cache_dir, num_workers, resize):
    """``(cache, transforms of the rest)`` for a dataset's infos and pipeline."""
    head, rest = _head_and_rest(pipeline_cfg, built)
    resize, why = resize_to_cache(rest, resize)
    if why:
        print_log(f'[decoded cache] {why}.', logger='current')
    return open_decoded_cache(infos, head, cache_dir, num_workers=num_workers, resize=resize), rest


def _dataset_class(cfg: dict):
    """The class a dataset config builds (its ``type``: a registered name or the class itself)."""
    kind = cfg.get('type')
    return DATASETS.get(kind) if isinstance(kind, str) else kind


def share_model_resize(cfg) -> None:
    """Give the datasets of ``cfg``'s dataloaders the model's resize (``model.data_preprocessor.resize``) as
    ``decoded_resize`` (``resize`` of a :class:`DecodedCacheDataset`), so a decoded-image cache stores images
    at the model's input size. A value the config sets itself is kept; datasets without the key are skipped."""
    resize = ((cfg.get('model') or {}).get('data_preprocessor') or {}).get('resize')
    if not resize:
        return
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(field) or {}).get('dataset')
        while isinstance(dataset, dict):
            cls = _dataset_class(dataset)
            if isinstance(cls, type) and issubclass(cls, DecodedCacheMixin):
                dataset.setdefault('decoded_resize', copy.deepcopy(resize))
            elif cls is DecodedCacheDataset:
                dataset.setdefault('resize', copy.deepcopy(resize))
            dataset = dataset.get('dataset')


class DecodedCacheMixin:
    """Decoded-image cache keys for any ``BaseDataset`` subclass (first in the bases).

    Args:
        cache_decoded (bool, optional): Read images from the decoded cache. Defaults to None: on for few-shot
            supports (``num_shots`` or ``num_wsis`` set) whose pipeline starts with ``LoadImageFromFile``.
        decoded_cache_dir (str): Parent folder of the caches. Defaults to ``work_dirs/decoded_cache``.
        decoded_cache_workers (int): Processes decoding on a cache miss. Defaults to 0.
        decoded_resize (dict, optional): The model's resize (``model.data_preprocessor.resize``), stored in the
            cache when only packing follows the pipeline head. Defaults to None (the tools fill it).
    """

    def __init__(self, *args, cache_decoded: Optional[bool] = None, decoded_cache_dir: str = DEFAULT_CACHE_DIR,
                 decoded_cache_workers: int = 0, decoded_resize: Optional[dict] = None, **kwargs):
        self.cache_decoded, self.decoded_cache_dir = cache_decoded, decoded_cache_dir
        self.decoded_cache_workers, self.decoded_resize = decoded_cache_workers, decoded_resize
        self.decoded_cache: Optional[DecodedImageCache] = None
        self._pipeline_cfg = copy.deepcopy(list(kwargs.get('pipeline') or []))
        super().__init__(*args, **kwargs)

    def _wants_decoded_cache(self) -> bool:
        if self.cache_decoded is not None:
            return bool(self.cache_decoded)
        few_shot = bool(getattr(self, 'num_shots', None) or getattr(self, 'num_wsis', None))
        steps = self.pipeline.transforms
        return few_shot and bool(steps) and type(steps[0]).__name__ == 'LoadImageFromFile'

    def full_init(self) -> None:
        if getattr(self, '_fully_initialized', False):
            return
        super().full_init()
        if self.decoded_cache is None and self._wants_decoded_cache():
            from mmcv.transforms import Compose
            infos = [self.get_data_info(i) for i in range(len(self))]
            self.decoded_cache, rest = _open(infos, self._pipeline_cfg, self.pipeline.transforms,
                                             self.decoded_cache_dir, self.decoded_cache_workers,
                                             self.decoded_resize)
            self.pipeline = Compose(rest)

    def prepare_data(self, idx: int):
        if self.decoded_cache is None:
            return super().prepare_data(idx)
        return self.pipeline(fill_from_cache(self.get_data_info(idx), self.decoded_cache))


@DATASETS.register_module()
class DecodedCacheDataset:
    """Wrap any dataset so that its images are decoded and resized once, then read as uint8 arrays.

    Every attribute other than ``__getitem__``/``__len__`` (``metainfo``, ``get_data_info``, ``data_list``...)
    is the wrapped dataset's. Config::

        dataset=dict(type='DecodedCacheDataset', dataset=dict(type='CustomDataset', ..., pipeline=[...]))

    Args:
        dataset (dict | BaseDataset): The dataset (config) to wrap; its ``pipeline`` must start with
            ``LoadImageFromFile``.
        cache_dir (str): Parent folder of the caches. Defaults to ``work_dirs/decoded_cache``.
        num_workers (int): Processes decoding on a cache miss. Defaults to 0.
        resize (dict, optional): The model's resize, as ``decoded_resize`` of :class:`DecodedCacheMixin`.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], cache_dir: str = DEFAULT_CACHE_DIR, num_workers: int = 0,
                 resize: Optional[dict] = None):
        from mmcv.transforms import Compose
        cfg = copy.deepcopy(dataset) if isinstance(dataset, dict) else {}
        if isinstance(dataset, dict):
            cls = _dataset_class(cfg)
            inner = isinstance(cls, type) and issubclass(cls, DecodedCacheMixin)  # the wrapper does the caching
            self.dataset = DATASETS.build(dict(cfg, cache_decoded=False) if inner else cfg)
        else:
            self.dataset = dataset
        self.dataset.full_init()
        infos = [self.dataset.get_data_info(i) for i in range(len(self.dataset))]
        self.cache, rest = _open(infos, cfg.get('pipeline'), self.dataset.pipeline.transforms, cache_dir,
                                 num_workers, resize)
        self.dataset.pipeline = Compose(rest)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        if name == 'dataset':  # not yet set (unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def full_init(self) -> None:
        """Done in ``__init__`` (MMEngine calls it on wrappers)."""

    def __getitem__(self, idx: int) -> dict:
        return self.dataset.pipeline(fill_from_cache(self.dataset.get_data_info(idx), self.cache))
