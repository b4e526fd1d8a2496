"""Whole-slide prediction: tile a slide, predict every tissue tile with the model's own test pipeline and data
preprocessor, aggregate to a slide prediction as :class:`~mmmedfm.evaluation.metrics.WSIMetric` does, and
draw per-class heatmaps over the thumbnail.

``predict_slide(model, path)`` is the notebook entry point; ``tools/predict_wsi.py`` writes its results for a
slide or a folder (``mmmedfm.apis.wsi_io``).
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import numpy as np
import pandas as pd
import torch
from mmengine.dataset import Compose
from torch import nn

from mmmedfm.evaluation.functional import aggregate_by_group
from .inference import class_names_of, infer_logits
from .slide import SlideError, open_slide, read_tile, thumbnail, tile_grid, tissue_mask

__all__ = ['SlidePrediction', 'predict_slide', 'heatmap', 'slide_aggregation', 'tile_pipeline']


@dataclass
class SlidePrediction:
    """What :func:`predict_slide` returns.

    Attributes:
        slide_id (str): Slide name (file name without extension).
        tiles (pandas.DataFrame): One row per tile: ``x, y, level, mpp, size0, read_size, tissue`` and
            ``prob_{class}``.
        probs (np.ndarray): ``(C,)`` slide-level probabilities (aggregated tile probabilities).
        class_names (list[str]): ``C`` names.
        thumbnail (np.ndarray): ``(h, w, 3)`` uint8 RGB.
        thumb_downsample (tuple): Level-0 pixels per thumbnail pixel ``(dx, dy)``.
        mask (np.ndarray): ``(h, w)`` bool tissue mask of the thumbnail.
        aggregate (str): ``'mean'`` or ``'vote'``.
    """
    slide_id: str
    tiles: pd.DataFrame
    probs: np.ndarray
    class_names: List[str]
    thumbnail: np.ndarray
    thumb_downsample: Tuple[float, float]
    mask: np.ndarray
    aggregate: str = 'mean'

    @property
    def label(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def pred_class(self) -> str:
        return self.class_names[self.label]


def slide_aggregation(cfg) -> str:
    """The ``aggregate`` of the config's ``WSIMetric`` in ``test_evaluator`` (``'mean'`` when it has none)."""
    evaluators = cfg.get('test_evaluator') or []
    evaluators = [evaluators] if isinstance(evaluators, dict) else evaluators
    for ev in evaluators:
        if isinstance(ev, dict) and str(ev.get('type', '')).split('.')[-1] == 'WSIMetric':
            return ev.get('aggregate', 'mean')
    return 'mean'


def tile_pipeline(cfg) -> Tuple[list, bool]:
    """The config's test pipeline without its image-loading step (tiles arrive as arrays), and whether that
    step delivered RGB (``channel_order='rgb'``); MMCV's loaders give BGR, which the data preprocessor flips."""
    pipeline, rgb = [], False
    for t in cfg.test_dataloader.dataset.pipeline:
        if str(t['type']).split('.')[-1].startswith('LoadImage'):
            rgb = t.get('channel_order', 'bgr') == 'rgb'
        else:
            pipeline.append(t)
    return pipeline, rgb


class _SlideTiles(torch.utils.data.Dataset):
    """Tiles of one slide through the test pipeline; the slide is opened lazily (once per worker)."""

    def __init__(self, path: str, slide_id: str, grid: pd.DataFrame, tile_size: int, pipeline, rgb: bool):
        self.path, self.slide_id, self.tile_size, self.rgb = path, slide_id, tile_size, rgb
        self.rows = grid[['x', 'y', 'level', 'read_size']].to_numpy()
        self.pipeline = Compose(pipeline)
        self._slide = None

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        if self._slide is None:
            self._slide = open_slide(self.path)
        import openslide
        x, y, level, read_size = (int(v) for v in self.rows[i])
        try:
            img = read_tile(self._slide, x, y, level, read_size, self.tile_size)
        except openslide.OpenSlideError as e:  # a corrupt tile: OpenSlide's handle is unusable afterwards
            raise SlideError(f'{self.path}: cannot read the tile at x={x}, y={y}, level {level} ({e}).') from None
        img = img if self.rgb else np.ascontiguousarray(img[..., ::-1])
        return self.pipeline(dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2], sample_idx=i,
                                  img_path=self.path, wsi_id=self.slide_id))


def predict_slide(model: nn.Module, path: str, tile_size: int = 256, mpp: Optional[float] = 1.0,
                  level: Optional[int] = None, thumb_size: int = 1024, tissue_channel: str = 'saturation',
                  tissue_threshold: Union[str, float] = 'otsu', min_tissue: float = 0.5,
                  aggregate: Optional[str] = None, batch_size: int = 32, num_workers: int = 0,
                  slide_id: Optional[str] = None, progress: bool = True) -> SlidePrediction:
    """Predict every tissue tile of a slide and the slide itself.

    Args:
        model (nn.Module): From :func:`mmmedfm.apis.init_model` (its ``cfg`` gives the test pipeline).
        path (str): Slide file (any format OpenSlide reads).
        tile_size (int): Tile side in pixels fed to the pipeline. Defaults to 256.
        mpp (float, optional): Tile resolution in microns per pixel. Defaults to 1.0 (10x).
        level (int, optional): Tile at this pyramid level instead (slides without mpp).
        thumb_size (int): Thumbnail size (tissue detection, heatmaps). Defaults to 1024.
        tissue_channel, tissue_threshold: See :func:`mmmedfm.apis.slide.tissue_mask`.
        min_tissue (float): Minimum tissue fraction of a tile. Defaults to 0.5.
        aggregate (str, optional): ``'mean'`` or ``'vote'``; defaults to the config's WSIMetric setting.
        batch_size (int): Tiles per forward pass. Defaults to 32.
        num_workers (int): Tile-reading workers. Defaults to 0.
        slide_id (str, optional): Defaults to the file name without extension.
        progress (bool): Show a progress bar over the tiles.

    Raises:
        SlideError: Unreadable slide, no tissue, no mpp (and no level), level out of range.
    """
    slide_id = slide_id or osp.splitext(osp.basename(path))[0]
    import openslide
    slide = open_slide(path)
    try:
        thumb, down = thumbnail(slide, thumb_size)
        mask, threshold = tissue_mask(thumb, tissue_channel, tissue_threshold)
        grid = tile_grid(slide, tile_size, mpp, level, mask, down, min_tissue, path)
    except openslide.OpenSlideError as e:  # corrupt image data in the thumbnail's level
        raise SlideError(f'{path}: cannot read the thumbnail ({e}).') from None
    finally:
        slide.close()
    if grid.empty:
        raise SlideError(f'{path}: no tissue found ({mask.mean():.1%} of the thumbnail above the {tissue_channel} '
                         f'threshold {threshold:g}; no tile with tissue fraction >= {min_tissue}). Lower '
                         '--min-tissue or --tissue-threshold if the slide is faint.')
    pipeline, rgb = tile_pipeline(model.cfg)
    dataset = _SlideTiles(path, slide_id, grid, tile_size, pipeline, rgb)
    logits, _ = infer_logits(model, dataset, batch_size, num_workers, progress, desc=slide_id)
    probs = torch.from_numpy(logits).softmax(-1).numpy()
    names = class_names_of(model)
    aggregate = aggregate or slide_aggregation(model.cfg)
    slide_probs, _, _ = aggregate_by_group(probs, np.zeros(len(probs), int), np.zeros(len(probs)), aggregate)
    tiles = grid.reset_index(drop=True)
    for j, name in enumerate(names):
        tiles[f'prob_{name}'] = probs[:, j]
    return SlidePrediction(slide_id, tiles, slide_probs[0], names, thumb, down, mask, aggregate)


def heatmap(thumb: np.ndarray, tiles: pd.DataFrame, values, downsample: Tuple[float, float],
            cmap: str = 'jet', alpha: float = 0.5) -> np.ndarray:
    """Tile values in [0, 1] drawn over the thumbnail: ``(h, w, 3)`` uint8 RGB, the thumbnail's size.

    Each tile's footprint (``x, y, size0`` level-0 pixels, scaled by ``downsample``) is blended as
    ``(1 - alpha) * thumbnail + alpha * cmap(value)``; pixels outside the tiles keep the thumbnail.
    """
    import matplotlib
    h, w = thumb.shape[:2]
    canvas = np.full((h, w), np.nan)
    dx, dy = downsample
    for x, y, s, v in zip(tiles['x'], tiles['y'], tiles['size0'], np.asarray(values, float)):
        x0, x1 = int(round(x / dx)), int(round((x + s) / dx))
        y0, y1 = int(round(y / dy)), int(round((y + s) / dy))
        canvas[y0:y1, x0:x1] = v
    covered = ~np.isnan(canvas)
    colours = matplotlib.colormaps[cmap](np.clip(np.nan_to_num(canvas), 0, 1))[..., :3] * 255
    out = thumb[..., :3].astype(np.float64)
    out[covered] = (1 - alpha) * out[covered] + alpha * colours[covered]
    return np.round(out).astype(np.uint8)
