"""Decoded-image cache: a split's images decoded and resized once, stored as uint8 arrays in memory-mapped shards.

The deterministic head of a dataset pipeline (``LoadImageFromFile`` followed by the model's own resize /
centre crop, exactly as the config writes them) is run once per image; its output arrays are written into
``.npy`` shards (flat uint8, read back with ``np.load(mmap_mode='r')``: no pickle, pages shared between
dataloader workers and between the cells of an in-process sweep). The cache key covers the ordered pipeline
head and the sorted ``(path, size, mtime_ns)`` of every image, so editing, adding or removing an image, or
changing the resize (interpolation, size, crop), selects a new cache. Layout::

    <cache_dir>/<key>/index.json        paths, shard/offset/shape and the head's other result keys per image
    <cache_dir>/<key>/shard_00000.npy   uint8, 1-D: the images' HWC bytes back to back
"""
import json
import os
import os.path as osp
import shutil
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from mmmedfm.models.utils.fingerprint import stable_hash

# Transforms whose output depends only on the image file (cacheable head of a pipeline).
DETERMINISTIC = ('LoadImageFromFile', 'Resize', 'ResizeEdge', 'CenterCrop', 'Pad')
SHARD_BYTES = 1 << 30
VERSION = 1


def _type_name(step) -> str:
    name = step['type'] if isinstance(step, dict) else type(step).__name__
    return (name if isinstance(name, str) else name.__name__).split('.')[-1]


def split_pipeline(pipeline: Sequence) -> Tuple[list, list]:
    """``(head, rest)``: the leading deterministic transforms (cached) and the others (run per sample).

    Raises:
        ValueError: The pipeline does not start with ``LoadImageFromFile`` (nothing to cache).
    """
    pipeline = list(pipeline)
    n = 0
    while n < len(pipeline) and _type_name(pipeline[n]) in DETERMINISTIC:
        n += 1
    if not n or _type_name(pipeline[0]) != 'LoadImageFromFile':
        raise ValueError('A decoded-image cache needs a pipeline starting with LoadImageFromFile; got '
                         f'{[_type_name(p) for p in pipeline]}.')
    return pipeline[:n], pipeline[n:]


def decoded_cache_key(head: Sequence[dict], paths: Sequence[str]) -> str:
    """Hash of the pipeline head and the sorted ``(path, size, mtime_ns)`` of the images.

    Raises:
        FileNotFoundError: An image does not exist (named).
    """
    files = []
    for p in sorted(set(map(str, paths))):
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise FileNotFoundError(f'Image file not found: {p}') from None
        files.append((p, st.st_size, st.st_mtime_ns))
    return stable_hash(dict(head=list(head), files=files, v=VERSION), length=24)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _identity(x):
    return x


class _HeadDataset:
    """Runs the pipeline head on one ``data_info`` (for a DataLoader that decodes in parallel)."""

    def __init__(self, infos: List[dict], head: Callable):
        self.infos, self.head = infos, head

    def __len__(self) -> int:
        return len(self.infos)

    def __getitem__(self, i: int) -> dict:
        out = self.head(dict(self.infos[i]))
        if out is None or out.get('img') is None:
            raise ValueError(f'The pipeline head returned no image for {self.infos[i].get("img_path")}.')
        img = np.ascontiguousarray(out['img'])
        if img.dtype != np.uint8:
            raise TypeError(f'{self.infos[i]["img_path"]}: the decoded image is {img.dtype}; the cache stores '
                            'uint8 (drop to_float32 from LoadImageFromFile).')
        extra = {k: _jsonable(v) for k, v in out.items() if k not in self.infos[i] and k != 'img'}
        return dict(img=img, extra=extra)


class DecodedImageCache:
    """Read-only view of one cache directory: ``get(path) -> (HWC uint8 array, extra result keys)``.

    Args:
        root (str): ``<cache_dir>/<key>`` holding ``index.json`` and the shards.
    """

    def __init__(self, root: str):
        self.root = root
        index_file = osp.join(root, 'index.json')
        try:
            with open(index_file) as f:
                index = json.load(f)
            self.entries: Dict[str, list] = {p: e for p, e in zip(index['paths'], index['entries'])}
            self.num_shards = int(index['num_shards'])
        except Exception as e:
            raise ValueError(f'Decoded-image cache {index_file} is unreadable ({e}); delete {root} to rebuild.'
                             ) from None
        self._shards: Dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, path: str) -> bool:
        return str(path) in self.entries

    def _shard(self, i: int) -> np.ndarray:
        if i not in self._shards:
            self._shards[i] = np.load(osp.join(self.root, f'shard_{i:05d}.npy'), mmap_mode='r', allow_pickle=False)
        return self._shards[i]

    def get(self, path: str) -> Tuple[np.ndarray, dict]:
        """A writable copy of the cached ``(H, W, C)`` uint8 image and the head's other result keys."""
        try:
            shard, offset, shape, extra = self.entries[str(path)]
        except KeyError:
            raise KeyError(f'{path} is not in the decoded-image cache {self.root}.') from None
        n = int(np.prod(shape))
        return np.array(self._shard(shard)[offset:offset + n]).reshape(shape), extra

    def __getstate__(self):  # memmaps are reopened in each dataloader worker
        return dict(self.__dict__, _shards={})

    @classmethod
    def build(cls, infos: List[dict], head: Sequence[dict], cache_dir: str, num_workers: int = 0,
              progress: bool = False) -> 'DecodedImageCache':
        """The cache of ``infos`` (data infos with ``img_path``) under ``head``; decoded now on a miss.

        Args:
            infos: MMEngine data infos (``img_path`` + whatever the head reads).
            head: The pipeline head (configs), as returned by :func:`split_pipeline`.
            cache_dir: Parent folder of the per-key cache folders.
            num_workers: Decoding processes (a ``torch.utils.data.DataLoader``). Defaults to 0.
            progress: Show a progress bar while decoding.
        """
        paths = [str(info['img_path']) for info in infos]
        if len(set(paths)) != len(paths):
            raise ValueError('The split lists an image twice; the decoded-image cache is keyed by path.')
        key = decoded_cache_key(head, paths)
        root = osp.join(cache_dir, key)
        if osp.isfile(osp.join(root, 'index.json')):
            print_log(f'[decoded cache] hit: {root} ({len(paths)} images)', logger='current')
            return cls(root)
        import time

        import torch
        from mmcv.transforms import Compose

        from mmmedfm.registry import TRANSFORMS
        start = time.perf_counter()
        tmp = f'{root}.tmp{os.getpid()}'
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        compose = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in head])
        loader = torch.utils.data.DataLoader(_HeadDataset(infos, compose), batch_size=None, shuffle=False,
                                             num_workers=num_workers, collate_fn=_identity)
        entries, pending, pending_bytes, shard = [], [], 0, 0

        def flush():
            nonlocal pending, pending_bytes, shard
            if pending:
                np.save(osp.join(tmp, f'shard_{shard:05d}.npy'), np.concatenate([p.reshape(-1) for p in pending]))
                shard, pending, pending_bytes = shard + 1, [], 0

        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(infos), desc='decode', unit='img')
        for item in loader:
            img = item['img']
            entries.append([shard, pending_bytes, list(img.shape), item['extra']])
            pending.append(img)
            pending_bytes += img.size
            if pending_bytes >= SHARD_BYTES:
                flush()
            if bar is not None:
                bar.update(1)
        flush()
        if bar is not None:
            bar.close()
        with open(osp.join(tmp, 'index.json'), 'w') as f:
            json.dump(dict(paths=paths, entries=entries, num_shards=shard, head=list(head), v=VERSION), f)
        try:
            os.replace(tmp, root)  # atomic; another process may have finished the same key first
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        seconds = time.perf_counter() - start
        print_log(f'[decoded cache] miss: decoded {len(paths)} images in {seconds:.1f}s -> {root}',
                  logger='current')
        return cls(root)


_OPEN: Dict[str, DecodedImageCache] = {}


def open_decoded_cache(infos: List[dict], head: Sequence[dict], cache_dir: str, num_workers: int = 0,
                       progress: bool = False) -> DecodedImageCache:
    """:meth:`DecodedImageCache.build`, memoised per process (cells of an in-process sweep share the maps)."""
    key = decoded_cache_key(head, [str(info['img_path']) for info in infos])
    root = osp.join(cache_dir, key)
    if root not in _OPEN or not osp.isfile(osp.join(root, 'index.json')):
        _OPEN[root] = DecodedImageCache.build(infos, head, cache_dir, num_workers, progress)
    return _OPEN[root]
