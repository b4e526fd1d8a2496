"""Decoded-image cache: a split's images decoded and resized once, stored as uint8 tensors in shards.

The deterministic head of a dataset pipeline (``LoadImageFromFile`` followed by any resize / centre crop the
config writes there) is run once per image, then, when given, the interpolation of the model's own resize
(``model.data_preprocessor.resize``: :func:`mmmedfm.utils.image_resize.resize_image`, the very function the
data preprocessor applies, on the same ``(C, H, W)`` uint8 layout, so the numbers are bit-identical on CPU;
the preprocessor is left with the centre crop, a slice).
The ``(N, H, W, 3)`` uint8 results go into the package's one shard format (:func:`mmmedfm.cache.write_shards`:
safetensors shards + ``index.json``, read memory-mapped, never pickle), shared by dataloader workers and by the
cells of an in-process sweep. The key (:func:`mmmedfm.cache.decoded_image_key`) covers the pipeline head, the
model resize and the ``(path, size, mtime_ns)`` of every image: editing, adding or removing an image, or
changing a resize (interpolation, size, crop), selects a new folder ``<cache_dir>/decoded_<key>``.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from mmmedfm.cache import ShardedArrays, decoded_image_key, is_complete, write_shards
from mmmedfm.utils.image_resize import resize_image

# Transforms whose output depends only on the image file (cacheable head of a pipeline).
DETERMINISTIC = ('LoadImageFromFile', 'Resize', 'ResizeEdge', 'CenterCrop', 'Pad')
# Transforms that leave the pixels alone: the model's resize, which the data preprocessor runs after the whole
# pipeline, gives the same numbers when it moves in front of them into the cache.
PIXEL_NEUTRAL = ('PackInputs', 'PackClsInputs')
SHARD_BYTES = 1 << 28


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


def resize_to_cache(rest: Sequence, resize: Optional[dict]) -> Tuple[Optional[dict], str]:
    """``(dict(size, interpolation) or None, reason)``: the part of the model's ``resize`` the cache stores.

    The interpolation (shorter side to ``size``) is stored, not the centre crop: the data preprocessor then
    finds the shorter side at ``size``, skips the interpolation as :func:`resize_image` does and only crops
    (a slice). Storing the crop too would leave a ``crop_size`` square the preprocessor cannot tell from a raw
    tile of that size when ``crop_size < size`` (DINOv2's 256 -> 224), which still needs the interpolation.

    Order of operations on the JPEG path: pipeline head (decode, a resize written in the pipeline) -> the rest of
    the pipeline (per-sample augmentation) -> the data preprocessor's model resize -> its on-device augmentation
    -> normalisation. The cache may run the model resize before the rest only when the rest does not touch the
    pixels (only packing): a flip, turn or colour jitter there ran on the full-size image, and jitter does not
    commute with resampling. CITE's PatchGastric recipe needs nothing moved: its reference resizes first (PIL
    bilinear to 224) and augments the resized image, which our pipeline writes as a head ``Resize`` (cached) and
    a per-sample rest, the same order; its model resize is None.
    """
    if not resize:
        return None, ''
    moved = [_type_name(t) for t in rest if _type_name(t) not in PIXEL_NEUTRAL]
    if moved:
        return None, (f'the model resize stays in the data preprocessor: the pipeline transforms {moved} run '
                      'before it on the full-size image')
    return dict(size=resize['size'], interpolation=resize.get('interpolation', 'bicubic')), ''


def file_stats(paths: Sequence[str]) -> List[Tuple[str, int, int]]:
    """``(path, size, mtime_ns)`` per image. Raises FileNotFoundError naming a missing image."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise FileNotFoundError(f'Image file not found: {p}') from None
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return out


class _HeadDataset(torch.utils.data.Dataset):
    """Runs the pipeline head (then ``resize``, the model's) on one data info: ``(HWC uint8 image,
    {numeric result: float64 array}, kinds)``. The other results (``img_shape``...) are the head's, as the JPEG
    path's data samples carry them (there the model resize runs later, in the data preprocessor)."""

    def __init__(self, infos: List[dict], head: Sequence, resize: Optional[dict] = None):
        from mmcv.transforms import Compose

        from mmmedfm.registry import TRANSFORMS
        self.infos, self.resize = infos, resize
        self.head = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in head])

    def __len__(self) -> int:
        return len(self.infos)

    def __getitem__(self, i: int):
        info = dict(self.infos[i])
        out = self.head(dict(info))
        img = None if out is None else out.get('img')
        if img is None or img.dtype != np.uint8 or img.ndim != 3:
            raise ValueError(f'{info.get("img_path")}: the pipeline head gave no HxWxC uint8 image (drop '
                             '`to_float32` from LoadImageFromFile to use the decoded-image cache).')
        extra = {k: np.asarray(v) for k, v in out.items()
                 if k not in info and k != 'img' and isinstance(v, (int, float, tuple, list, np.ndarray))}
        kinds = {k: {'b': 'bool', 'i': 'int', 'u': 'int'}.get(v.dtype.kind, 'float') + (':seq' if v.ndim else '')
                 for k, v in extra.items()}
        if self.resize:  # the (C, H, W) contiguous uint8 tensor PackInputs gives the preprocessor
            chw = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
            img = resize_image(chw, **self.resize).to(torch.uint8).permute(1, 2, 0).numpy()
        return np.ascontiguousarray(img), {k: v.astype(np.float64) for k, v in extra.items()}, kinds


def _identity(x):
    return x


class DecodedImageCache:
    """Read-only view of one cache folder: ``get(path) -> (HWC uint8 array, extra result keys)``.

    Args:
        folder (str): ``<cache_dir>/decoded_<key>`` written by :meth:`build`.
    """

    def __init__(self, folder: str):
        self.arrays = ShardedArrays(folder)
        self.root = folder
        meta = self.arrays.index
        self.rows: Dict[str, int] = {p: i for i, p in enumerate(meta['paths'])}
        self.extra_kinds: Dict[str, str] = meta['extra_kinds']
        self._extras = None

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, path: str) -> Tuple[np.ndarray, dict]:
        """A writable copy of the cached ``(H, W, C)`` uint8 image and the head's other results (``ori_shape``,
        ``img_shape``, ``scale_factor``... as tuples / numbers, as the JPEG path sets them)."""
        try:
            i = self.rows[str(path)]
        except KeyError:
            raise KeyError(f'{path} is not in the decoded-image cache {self.root}.') from None
        if self._extras is None:  # small (N, k) arrays: read once
            self._extras = {k: self.arrays.load(f'extra.{k}').numpy() for k in self.extra_kinds}
        extra = {}
        for key, kind in self.extra_kinds.items():
            value = self._extras[key][i]
            cast = {'int': int, 'float': float, 'bool': bool}[kind.split(':')[0]]
            extra[key] = tuple(cast(v) for v in value.reshape(-1)) if kind.endswith(':seq') else cast(value)
        return self.arrays.get('img', i).numpy().copy(), extra

    @classmethod
    def build(cls, infos: List[dict], head: Sequence, cache_dir: str, num_workers: int = 0,
              progress: bool = False, resize: Optional[dict] = None) -> 'DecodedImageCache':
        """The cache of ``infos`` (data infos with ``img_path``) under ``head``; decoded now on a miss.

        Args:
            infos: MMEngine data infos (``img_path`` + whatever the head reads).
            head: The pipeline head (configs), as returned by :func:`split_pipeline`.
            cache_dir: Parent folder of the cache folders.
            resize: ``dict(size, interpolation='bicubic')``: :func:`resize_image` (no crop) applied after the
                head; see :func:`resize_to_cache`. Defaults to None (the head's size).
            num_workers: Decoding processes (a ``torch.utils.data.DataLoader``). Defaults to 0.
            progress: Show a progress bar while decoding.

        Raises:
            ValueError: An image is listed twice, or the head gives images of different shapes.
        """
        paths = [str(info['img_path']) for info in infos]
        if len(set(paths)) != len(paths):
            raise ValueError('The split lists an image twice; the decoded-image cache is keyed by path.')
        head_cfg = [h if isinstance(h, dict) else repr(h) for h in head]
        resize = dict(dict(interpolation='bicubic'), **resize) if resize else None
        folder = osp.join(cache_dir, 'decoded_' + decoded_image_key(head_cfg, file_stats(paths), resize))
        if is_complete(folder):
            print_log(f'[decoded cache] hit: {folder} ({len(paths)} images)', logger='current')
            return cls(folder)
        import time
        start = time.perf_counter()
        data = _HeadDataset(infos, head, resize)
        first_img, _, kinds = data[0] if len(data) else (np.zeros((0, 0, 3), np.uint8), {}, {})

        def encode(lo: int, hi: int) -> Dict[str, torch.Tensor]:
            loader = torch.utils.data.DataLoader(torch.utils.data.Subset(data, range(lo, hi)), batch_size=None,
                                                 num_workers=num_workers, collate_fn=_identity)
            imgs, extras = [], {k: [] for k in kinds}
            for j, (img, extra, _) in enumerate(loader):
                if img.shape != first_img.shape:
                    raise ValueError(f'{paths[lo + j]}: decoded to {img.shape}, the first image to '
                                     f'{first_img.shape}; the cache needs one size: end the pipeline head with a '
                                     'fixed-size Resize or a CenterCrop.')
                imgs.append(torch.from_numpy(img))
                for k in kinds:
                    extras[k].append(torch.from_numpy(np.asarray(extra[k], np.float64)))
            return dict(img=torch.stack(imgs), **{f'extra.{k}': torch.stack(v) for k, v in extras.items()})

        shard_size = max(1, SHARD_BYTES // max(1, first_img.size))
        write_shards(folder, len(paths), encode, dict(paths=paths, head=head_cfg, resize=resize, extra_kinds=kinds),
                     shard_size=shard_size, progress=progress, desc='decode')
        seconds = time.perf_counter() - start
        print_log(f'[decoded cache] miss: decoded {len(paths)} images in {seconds:.1f}s -> {folder}',
                  logger='current')
        return cls(folder)


_OPEN: Dict[Tuple[str, int], DecodedImageCache] = {}


def open_decoded_cache(infos: List[dict], head: Sequence, cache_dir: str, num_workers: int = 0,
                       progress: bool = False, resize: Optional[dict] = None) -> DecodedImageCache:
    """:meth:`DecodedImageCache.build`, memoised per process (cells of an in-process sweep share the maps)."""
    cache = DecodedImageCache.build(infos, head, cache_dir, num_workers, progress, resize)
    key = (cache.root, os.getpid())
    if key not in _OPEN:
        _OPEN[key] = cache
    return _OPEN[key]
