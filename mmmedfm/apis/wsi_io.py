"""Whole-slide prediction of a slide or a folder to files, resumable per slide, split across ranks.

Per slide ``{out_dir}/{slide_id}/``: ``tiles.csv`` (x, y, level, mpp, ... , prob per class), ``thumbnail.png``,
``heatmap_{class}.png`` and ``prediction.json`` (written last: its presence marks the slide done).
``{out_dir}/summary.csv`` has one row per slide. ``tools/predict_wsi.py`` is the CLI.
"""
import glob
import json
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Union

import pandas as pd
from mmengine.logging import print_log

from .slide import SLIDE_EXTENSIONS, SlideError
from .wsi import SlidePrediction, heatmap, predict_slide

__all__ = ['list_slides', 'write_slide_outputs', 'predict_slides', 'slide_done', 'write_summary']

DONE_FILE = 'prediction.json'


def list_slides(inputs: Union[str, Sequence[str]]) -> List[str]:
    """A slide file, a folder (searched recursively for ``SLIDE_EXTENSIONS``) or a list of files -> paths.

    Raises:
        FileNotFoundError: A path does not exist or a folder holds no slide.
        ValueError: Two slides share a file name without extension (their outputs would collide).
    """
    if isinstance(inputs, str) and osp.isdir(inputs):
        paths = sorted(p for p in glob.glob(osp.join(inputs, '**', '*'), recursive=True)
                       if p.lower().endswith(SLIDE_EXTENSIONS) and osp.isfile(p))
        if not paths:
            raise FileNotFoundError(f'No slides ({", ".join(SLIDE_EXTENSIONS)}) under folder {inputs}.')
    else:
        paths = [inputs] if isinstance(inputs, str) else list(inputs)
        for p in paths:
            if not osp.isfile(p):
                raise FileNotFoundError(f'Slide not found: {p}')
    seen: Dict[str, str] = {}
    for p in paths:
        sid = slide_id_of(p)
        if sid in seen:
            raise ValueError(f'Two slides named {sid!r}: {seen[sid]} and {p}; rename one (outputs go to '
                             f'{{out}}/{sid}/).')
        seen[sid] = p
    return paths


def slide_id_of(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def _safe(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('_') or 'class'


def slide_done(out_dir: str, slide_id: str) -> bool:
    return osp.isfile(osp.join(out_dir, slide_id, DONE_FILE))


def write_slide_outputs(pred: SlidePrediction, path: str, out_dir: str, cmap: str = 'jet',
                        alpha: float = 0.5) -> dict:
    """Write one slide's files (see the module docstring); returns the ``prediction.json`` record."""
    from PIL import Image
    folder = osp.join(out_dir, pred.slide_id)
    os.makedirs(folder, exist_ok=True)
    pred.tiles.to_csv(osp.join(folder, 'tiles.csv'), index=False)
    Image.fromarray(pred.thumbnail).save(osp.join(folder, 'thumbnail.png'))
    for name in pred.class_names:
        img = heatmap(pred.thumbnail, pred.tiles, pred.tiles[f'prob_{name}'], pred.thumb_downsample, cmap, alpha)
        Image.fromarray(img).save(osp.join(folder, f'heatmap_{_safe(name)}.png'))
    record = dict(slide_id=pred.slide_id, path=osp.abspath(path), num_tiles=len(pred.tiles),
                  aggregate=pred.aggregate, pred_label=pred.label, pred_class=pred.pred_class,
                  tile_mpp=None if pd.isna(pred.tiles['mpp'].iloc[0]) else float(pred.tiles['mpp'].iloc[0]),
                  tile_level=int(pred.tiles['level'].iloc[0]),
                  **{f'prob_{n}': float(p) for n, p in zip(pred.class_names, pred.probs)})
    tmp = osp.join(folder, DONE_FILE + '.tmp')
    with open(tmp, 'w') as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, osp.join(folder, DONE_FILE))
    return record


def write_summary(paths: Sequence[str], out_dir: str, errors: Optional[Dict[str, str]] = None) -> pd.DataFrame:
    """``{out_dir}/summary.csv``: the ``prediction.json`` record of each slide (in ``paths`` order) and an
    ``error`` column for the slides that failed (``errors``: slide id -> message) or are not done."""
    errors = errors or {}
    rows = []
    for p in paths:
        sid = slide_id_of(p)
        done = osp.join(out_dir, sid, DONE_FILE)
        if osp.isfile(done):
            with open(done) as f:
                rows.append(dict(json.load(f), error=''))
        else:
            rows.append(dict(slide_id=sid, path=osp.abspath(p), error=errors.get(sid, 'not done')))
    df = pd.DataFrame(rows)
    df.to_csv(osp.join(out_dir, 'summary.csv'), index=False)
    return df


def predict_slides(model, inputs: Union[str, Sequence[str]], out_dir: str, resume: bool = True,
                   rank: int = 0, world_size: int = 1, cmap: str = 'jet', alpha: float = 0.5,
                   **kwargs) -> Dict[str, str]:
    """Predict the slides of ``inputs`` that this rank owns (``paths[rank::world_size]``) and write their files.

    Slides already done (``prediction.json`` present) are skipped when ``resume``. A slide that cannot be
    used (:class:`SlideError`: unreadable, no tissue, no mpp, level out of range) is reported in one line and
    the others go on. ``kwargs`` go to :func:`predict_slide`. The summary is written by the caller after all
    ranks finish (:func:`write_summary`).

    Returns:
        dict: slide id -> ``'done'``, ``'skipped'`` (already done) or the error message, for this rank's slides.
    """
    paths = list_slides(inputs)
    mine = paths[rank::world_size]
    status = {}
    for i, path in enumerate(mine):
        sid = slide_id_of(path)
        if resume and slide_done(out_dir, sid):
            print_log(f'[{i + 1}/{len(mine)}] {sid}: already done, skipped (pass overwrite to redo).',
                      logger='current')
            status[sid] = 'skipped'
            continue
        try:
            pred = predict_slide(model, path, slide_id=sid, **kwargs)
        except SlideError as e:
            print_log(f'[{i + 1}/{len(mine)}] {sid}: {e}', logger='current', level=40)
            status[sid] = str(e)
            continue
        rec = write_slide_outputs(pred, path, out_dir, cmap, alpha)
        print_log(f'[{i + 1}/{len(mine)}] {sid}: {rec["num_tiles"]} tiles -> {rec["pred_class"]} '
                  f'(p={max(pred.probs):.3f}); outputs in {osp.join(out_dir, sid)}', logger='current')
        status[sid] = 'done'
    return status
