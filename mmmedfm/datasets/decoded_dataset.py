"""Datasets that read decoded, resized images from a :class:`DecodedImageCache` instead of JPEGs.

:class:`DecodedCacheMixin` gives every dataset of the package (through :class:`FewShotMixin`) the config keys
``cache_decoded``, ``decoded_cache_dir`` and ``decoded_cache_workers``; :class:`DecodedCacheDataset` wraps any
other MMEngine dataset. The pipeline is split by :func:`split_pipeline`: its deterministic head (loading + the
model's resize / crop, as written in the config) fills the cache once; the rest (random flips, quarter turns,
colour jitter, ``PackInputs``) runs per sample on the cached array, so a sample equals the JPEG path's sample
for the same random draws.
"""
import copy
from typing import Optional, Union

from mmengine.dataset import BaseDataset

from mmmedfm.registry import DATASETS
from .decoded_cache import DecodedImageCache, open_decoded_cache, split_pipeline

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


class DecodedCacheMixin:
    """Decoded-image cache keys for any ``BaseDataset`` subclass (first in the bases).

    Args:
        cache_decoded (bool, optional): Read images from the decoded cache. Defaults to None: on for few-shot
            supports (``num_shots`` or ``num_wsis`` set) whose pipeline starts with ``LoadImageFromFile``.
        decoded_cache_dir (str): Parent folder of the caches. Defaults to ``work_dirs/decoded_cache``.
        decoded_cache_workers (int): Processes decoding on a cache miss. Defaults to 0.
    """

    def __init__(self, *args, cache_decoded: Optional[bool] = None, decoded_cache_dir: str = DEFAULT_CACHE_DIR,
                 decoded_cache_workers: int = 0, **kwargs):
        self.cache_decoded, self.decoded_cache_dir = cache_decoded, decoded_cache_dir
        self.decoded_cache_workers = decoded_cache_workers
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
            head, rest = _head_and_rest(self._pipeline_cfg, self.pipeline.transforms)
            infos = [self.get_data_info(i) for i in range(len(self))]
            self.decoded_cache = open_decoded_cache(infos, head, self.decoded_cache_dir,
                                                    num_workers=self.decoded_cache_workers)
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
    """

    def __init__(self, dataset: Union[dict, BaseDataset], cache_dir: str = DEFAULT_CACHE_DIR, num_workers: int = 0):
        from mmcv.transforms import Compose
        cfg = copy.deepcopy(dataset) if isinstance(dataset, dict) else {}
        if isinstance(dataset, dict):
            self.dataset = DATASETS.build(dict(cfg, cache_decoded=False) if 'cache_decoded' in cfg else cfg)
        else:
            self.dataset = dataset
        self.dataset.full_init()
        head, rest = _head_and_rest(cfg.get('pipeline'), self.dataset.pipeline.transforms)
        infos = [self.dataset.get_data_info(i) for i in range(len(self.dataset))]
        self.cache = open_decoded_cache(infos, head, cache_dir, num_workers=num_workers)
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
