"""Whole-slide reading: open a slide, find tissue on its thumbnail, lay a tile grid at a target resolution.

Pure functions over an OpenSlide handle (``openslide-python`` with the ``openslide-bin`` wheel). Coordinates
are level-0 pixels, as OpenSlide's ``read_region`` takes them.
"""
import os.path as osp
from typing import Optional, Tuple, Union

import numpy as np
import pandas as pd

SLIDE_EXTENSIONS = ('.svs', '.tif', '.tiff', '.ndpi', '.vms', '.vmu', '.scn', '.mrxs', '.svslide', '.bif',
                    '.dcm')

__all__ = ['SlideError', 'open_slide', 'slide_mpp', 'thumbnail', 'tissue_mask', 'tile_grid', 'read_tile',
           'SLIDE_EXTENSIONS']


class SlideError(ValueError):
    """A slide cannot be used as asked (unreadable, no tissue, no resolution, level out of range)."""


def open_slide(path: str):
    """``openslide.OpenSlide(path)`` with one clear error naming the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        SlideError: OpenSlide cannot read it (not a slide format it knows, or a corrupt file).
    """
    import openslide
    if not osp.isfile(path):
        raise FileNotFoundError(f'Slide not found: {path}')
    try:
        return openslide.OpenSlide(path)
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as e:
        raise SlideError(f'{path}: OpenSlide cannot read this file ({e.__class__.__name__}: '
                         f'{str(e) or "unsupported or corrupt format"}).') from None


def slide_mpp(slide) -> Optional[float]:
    """Level-0 microns per pixel (mean of ``openslide.mpp-x`` and ``-y``), None when the slide has none."""
    import openslide
    values = [slide.properties.get(k) for k in (openslide.PROPERTY_NAME_MPP_X, openslide.PROPERTY_NAME_MPP_Y)]
    values = [float(v) for v in values if v not in (None, '')]
    values = [v for v in values if v > 0]
    return float(np.mean(values)) if values else None


def thumbnail(slide, max_size: int = 1024) -> Tuple[np.ndarray, Tuple[float, float]]:
    """RGB thumbnail ``(h, w, 3)`` uint8 that fits in ``max_size`` and its level-0 downsample ``(dx, dy)``
    (level-0 pixels per thumbnail pixel, per axis)."""
    img = np.asarray(slide.get_thumbnail((max_size, max_size)).convert('RGB'))
    width, height = slide.dimensions
    return img, (width / img.shape[1], height / img.shape[0])


def tissue_mask(rgb: np.ndarray, channel: str = 'saturation', threshold: Union[str, float] = 'otsu',
                min_threshold: float = 20.) -> Tuple[np.ndarray, float]:
    """Tissue mask of an RGB image (usually a slide thumbnail).

    Stained tissue is saturated and darker than glass: the mask is ``value > threshold`` on the HSV
    saturation (``channel='saturation'``, 0-255) or on the inverted grey level (``'darkness'``, 255 - grey).

    Args:
        rgb (np.ndarray): ``(h, w, 3)`` uint8 RGB.
        channel (str): ``'saturation'`` or ``'darkness'``. Defaults to ``'saturation'``.
        threshold (str | float): ``'otsu'`` (OpenCV's Otsu threshold of the channel), ``'triangle'``
            (OpenCV's triangle threshold: the foot of the dominant glass peak) or a value in 0-255. Otsu splits
            the histogram into two populations; when pale and dark tissue are populations of their own it cuts
            between them and drops the pale tissue, where ``'triangle'`` or a fixed value (e.g. 20) keeps it.
        min_threshold (float): Floor applied to the automatic thresholds, so that blank glass (all low values,
            where they split noise) yields no tissue. Defaults to 20.

    Returns:
        tuple: ``mask (h, w)`` bool and the threshold used.
    """
    import cv2
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    if channel == 'saturation':
        values = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    elif channel == 'darkness':
        values = 255 - cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    else:
        raise ValueError(f"tissue channel must be 'saturation' or 'darkness', got {channel!r}.")
    methods = dict(otsu=cv2.THRESH_OTSU, triangle=cv2.THRESH_TRIANGLE)
    if isinstance(threshold, str):
        if threshold not in methods:
            raise ValueError(f"tissue threshold must be 'otsu', 'triangle' or a number, got {threshold!r}.")
        auto, _ = cv2.threshold(values, 0, 255, cv2.THRESH_BINARY + methods[threshold])
        threshold = max(float(auto), float(min_threshold))
    return values > float(threshold), float(threshold)


def _read_level(slide, path: str, mpp: Optional[float], level: Optional[int]) -> Tuple[int, float, float]:
    """``(read_level, level-0 pixels per output pixel, output mpp or nan)``."""
    downsamples = slide.level_downsamples
    mpp0 = slide_mpp(slide)
    if level is not None:
        if not 0 <= level < len(downsamples):
            raise SlideError(f'{path}: level {level} is out of range (the slide has {len(downsamples)} levels, '
                             f'0-{len(downsamples) - 1}).')
        factor = float(downsamples[level])
        return level, factor, mpp0 * factor if mpp0 else float('nan')
    if mpp is None:
        raise SlideError(f'{path}: give a target resolution (mpp) or a level.')
    if mpp0 is None:
        raise SlideError(f'{path}: the slide has no resolution (no openslide.mpp-x property), so tiles cannot '
                         'be taken at a target mpp; name a pyramid level instead (--level N, tiles of '
                         '--tile-size pixels at that level).')
    factor = mpp / mpp0
    read = max(i for i, d in enumerate(downsamples) if d <= factor * (1 + 1e-6) or i == 0)
    return read, factor, float(mpp)


def tile_grid(slide, tile_size: int = 256, mpp: Optional[float] = 1.0, level: Optional[int] = None,
              mask: Optional[np.ndarray] = None, mask_downsample: Tuple[float, float] = (1., 1.),
              min_tissue: float = 0.5, path: str = 'slide') -> pd.DataFrame:
    """Non-overlapping grid of ``tile_size`` tiles at ``mpp`` microns per pixel (or at pyramid ``level``).

    A tile covers ``tile_size * mpp / slide_mpp`` level-0 pixels; it is read from the finest pyramid level
    that is not finer than needed and resized to ``tile_size``. Only whole tiles are laid (the right and
    bottom remainders are dropped). With ``mask``, tiles whose tissue fraction (mean of the mask over the
    tile's footprint) is below ``min_tissue`` are dropped.

    Args:
        slide: OpenSlide handle.
        tile_size (int): Tile side in output pixels. Defaults to 256.
        mpp (float, optional): Target microns per pixel. Ignored when ``level`` is given.
        level (int, optional): Tile at this pyramid level's native resolution (slides without mpp).
        mask (np.ndarray, optional): ``(h, w)`` bool tissue mask (thumbnail scale).
        mask_downsample (tuple): Level-0 pixels per mask pixel ``(dx, dy)``.
        min_tissue (float): Minimum tissue fraction of a kept tile. Defaults to 0.5.
        path (str): Slide name for error messages.

    Returns:
        pandas.DataFrame: one row per tile: ``x, y`` (level-0 top-left), ``level`` (read level), ``mpp``,
        ``size0`` (level-0 footprint side), ``read_size`` (side read at ``level``), ``tissue`` (fraction).

    Raises:
        SlideError: No mpp and no level, level out of range, slide smaller than one tile.
    """
    read_level, factor, out_mpp = _read_level(slide, path, mpp, level)
    span = tile_size * factor
    width, height = slide.dimensions
    nx, ny = int(width // span), int(height // span)
    if nx == 0 or ny == 0:
        raise SlideError(f'{path}: slide ({width} x {height} px) is smaller than one tile ({span:.0f} level-0 px '
                         f'= {tile_size} px at {out_mpp:g} mpp).')
    xs = np.round(np.arange(nx) * span).astype(int)
    ys = np.round(np.arange(ny) * span).astype(int)
    gx, gy = np.meshgrid(xs, ys)
    x, y = gx.ravel(), gy.ravel()
    tissue = np.ones(len(x))
    if mask is not None:
        integral = np.pad(np.asarray(mask, np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        dx, dy = mask_downsample
        x0 = np.clip(np.round(x / dx).astype(int), 0, mask.shape[1])
        x1 = np.clip(np.round((x + span) / dx).astype(int), 0, mask.shape[1])
        y0 = np.clip(np.round(y / dy).astype(int), 0, mask.shape[0])
        y1 = np.clip(np.round((y + span) / dy).astype(int), 0, mask.shape[0])
        area = np.maximum((x1 - x0) * (y1 - y0), 1)
        tissue = (integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]) / area
    keep = tissue >= min_tissue
    read_size = int(round(span / slide.level_downsamples[read_level]))
    return pd.DataFrame(dict(x=x[keep], y=y[keep], level=read_level, mpp=out_mpp, size0=span,
                             read_size=read_size, tissue=tissue[keep]))


def read_tile(slide, x: int, y: int, level: int, read_size: int, tile_size: int) -> np.ndarray:
    """One tile as ``(tile_size, tile_size, 3)`` uint8 RGB (transparent pixels composited on white; resized
    with area averaging when ``read_size != tile_size``)."""
    from PIL import Image
    region = slide.read_region((int(x), int(y)), int(level), (read_size, read_size))
    white = Image.new('RGBA', region.size, (255, 255, 255, 255))
    img = Image.alpha_composite(white, region).convert('RGB')
    if read_size != tile_size:
        img = img.resize((tile_size, tile_size), Image.Resampling.BOX if read_size > tile_size
                         else Image.Resampling.BICUBIC)
    return np.asarray(img)
