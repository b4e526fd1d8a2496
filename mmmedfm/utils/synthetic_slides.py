"""Synthetic whole-slide images: pyramidal tiled TIFFs that OpenSlide reads (``generic-tiff`` vendor).

Each level is a tiled, deflate-compressed TIFF page (no ``imagecodecs`` needed); the resolution tags make
OpenSlide report ``openslide.mpp-x/y``. Used by the demo assets and the whole-slide inference tests.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .demo_assets import synthetic_patch


def write_pyramid_tiff(path: str, image: np.ndarray, mpp: Optional[float] = 0.5, levels: int = 3,
                       tile: int = 256) -> str:
    """Write ``image`` ``(H, W, 3)`` uint8 RGB as a pyramidal tiled TIFF with ``levels`` levels.

    Level ``l`` is ``image[::2**l, ::2**l]`` (exact decimation, so tests can crop it independently).

    Args:
        path (str): Output ``.tif``.
        image (np.ndarray): Level-0 pixels, ``(H, W, 3)`` uint8 RGB; H and W multiples of ``2**(levels-1)``.
        mpp (float, optional): Level-0 microns per pixel, written as resolution tags (pixels per cm).
            None writes no resolution tags: OpenSlide then reports no mpp.
        levels (int): Pyramid levels (downsample 1, 2, 4, ...). Defaults to 3.
        tile (int): TIFF tile size (multiple of 16). Defaults to 256.
    """
    import tifffile
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with tifffile.TiffWriter(path) as tif:
        for level in range(levels):
            extra = {}
            if mpp is not None:
                ppcm = 1e4 / (mpp * 2 ** level)
                extra = dict(resolution=(ppcm, ppcm), resolutionunit='CENTIMETER')
            tif.write(np.ascontiguousarray(image[::2 ** level, ::2 ** level]), tile=(tile, tile),
                      compression='zlib', photometric='rgb', subfiletype=1 if level else 0, **extra)
    return path


def blank_background(shape: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Near-white glass with faint noise, ``(H, W, 3)`` uint8 (what a slide looks like outside the tissue)."""
    return np.clip(rng.normal(243, 3, (*shape, 3)), 0, 255).astype(np.uint8)


def paint_tissue(image: np.ndarray, region: np.ndarray, label: int, rng: np.random.Generator,
                 block: int = 256) -> None:
    """Fill ``image`` where the boolean ``region`` ``(H, W)`` is set with the synthetic tissue of ``label``
    (the demo SICAPv2 patch style), generated block by block so the texture density matches the patches."""
    h, w = region.shape
    for y in range(0, h, block):
        for x in range(0, w, block):
            sub = region[y:y + block, x:x + block]
            if sub.any():
                patch = synthetic_patch(label, rng, block)[:sub.shape[0], :sub.shape[1]]
                image[y:y + block, x:x + block][sub] = patch[sub]


def demo_slide_image(size: Tuple[int, int] = (2048, 3072), seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """The demo slide at 1 µm/px: an elliptic tissue section on blank glass whose left part is benign (class 0,
    large open glands) and whose right part is high grade (class 3, sheets of nuclei), with a benign-grade
    band (class 1) between them, and a small isolated fragment of class 2 at the bottom left.

    Returns:
        tuple: ``image (H, W, 3)`` uint8 RGB and ``labels (H, W)`` int (-1 = no tissue).
    """
    h, w = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    section = ((yy - 0.45 * h) / (0.36 * h)) ** 2 + ((xx - 0.55 * w) / (0.40 * w)) ** 2 < 1
    fragment = ((yy - 0.82 * h) / (0.11 * h)) ** 2 + ((xx - 0.12 * w) / (0.08 * w)) ** 2 < 1
    labels = np.full(size, -1, int)
    labels[section & (xx < 0.45 * w)] = 0
    labels[section & (xx >= 0.45 * w) & (xx < 0.62 * w)] = 1
    labels[section & (xx >= 0.62 * w)] = 3
    labels[fragment] = 2
    image = blank_background(size, rng)
    for label in range(4):
        paint_tissue(image, labels == label, label, rng)
    return image, labels


def make_demo_slide(root: str, seed: int = 0) -> Dict[str, str]:
    """Write ``{root}/demo_slide.tif`` (3072 x 2048 px at 1 µm/px, 3 levels; see :func:`demo_slide_image`)."""
    image, _ = demo_slide_image(seed=seed)
    path = write_pyramid_tiff(osp.join(root, 'demo_slide.tif'), image, mpp=1.0, levels=3)
    return dict(slide=path)


def rectangles_image(shape: Tuple[int, int], boxes: Sequence[Tuple[int, int, int, int, int]],
                     seed: int = 0) -> np.ndarray:
    """Blank glass with tissue rectangles ``(y0, x0, y1, x1, label)``: ``(H, W, 3)`` uint8 RGB."""
    rng = np.random.default_rng(seed)
    image = blank_background(shape, rng)
    for y0, x0, y1, x1, label in boxes:
        region = np.zeros(shape, bool)
        region[y0:y1, x0:x1] = True
        paint_tissue(image, region, label, rng)
    return image
