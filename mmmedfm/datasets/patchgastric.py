import logging
import os
import os.path as osp
from collections import Counter, defaultdict
from typing import Dict, List, Optional

import pandas as pd
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset

from mmmedfm.registry import DATASETS
from .few_shot import SPLIT_MODES, FewShotMixin, split_wsis_per_class
from .tables import read_table, refuse_empty_cells

PATCHGASTRIC_CLASSES = ('well differentiated tubular adenocarcinoma',
                        'moderately differentiated tubular adenocarcinoma',
                        'poorly differentiated adenocarcinoma')
# The `subtype` strings of captions.csv that CITE keeps, and their class; every other subtype is excluded.
PATCHGASTRIC_SUBTYPES = {
    'Well differentiated tubular adenocarcinoma': 0,
    'Moderately differentiated tubular adenocarcinoma': 1,
    'Poorly differentiated adenocarcinoma, non-solid type': 2,
    'Poorly differentiated adenocarcinoma, solid type': 2,
}
PATCHGASTRIC_TEMPLATES = ['a histopathology slide showing [CLS]', 'histopathology image of [CLS]',
                          'pathology tissue showing [CLS]', 'presence of [CLS] tissue on image']
SPLITS = ('train', 'test')


def read_captions(ann_file: str) -> pd.DataFrame:
    """Read ``captions.csv`` and keep CITE's three classes: columns ``wsi_id, subtype, text, gt_label``.

    Raises:
        FileNotFoundError / KeyError / ValueError: missing file, missing column, or a WSI id listed twice.
    """
    df = read_table(ann_file, 'PatchGastric captions file', dtype={'id': str})
    missing = [c for c in ('id', 'subtype', 'text') if c not in df.columns]
    if missing:
        raise KeyError(f'{ann_file}: missing column(s) {missing}; captions.csv has id, subtype, text '
                       f'(found {list(df.columns)}).')
    refuse_empty_cells(df, ['id'], ann_file)
    dup = df['id'][df['id'].duplicated()].tolist()
    if dup:
        raise ValueError(f'{ann_file}: WSI id(s) {dup[:5]} listed more than once; captions.csv has one row per WSI.')
    df['subtype'] = df['subtype'].astype(str).str.strip()
    kept = df[df['subtype'].isin(PATCHGASTRIC_SUBTYPES)].copy()
    excluded = Counter(df.loc[~df['subtype'].isin(PATCHGASTRIC_SUBTYPES), 'subtype'])
    if excluded:
        print_log(f'{ann_file}: excluded {sum(excluded.values())} WSIs of subtypes outside CITE\'s three classes: '
                  f'{dict(excluded)}', logger='current')
    kept['gt_label'] = kept['subtype'].map(PATCHGASTRIC_SUBTYPES).astype(int)
    return kept.rename(columns={'id': 'wsi_id'})[['wsi_id', 'subtype', 'text', 'gt_label']]


def read_split_file(split_file: str) -> Dict[str, str]:
    """``{wsi_id: split}`` from a CSV with columns ``wsi_id, split`` (written by
    ``tools/dataset_converters/patchgastric_split.py``). A slide listed twice with different splits is refused
    (it would leak between training and evaluation)."""
    if not osp.isfile(split_file):
        raise FileNotFoundError(f'PatchGastric split file not found: {split_file} (write it with '
                                'tools/dataset_converters/patchgastric_split.py).')
    df = read_table(split_file, dtype={'wsi_id': str})
    if not {'wsi_id', 'split'} <= set(df.columns):
        raise KeyError(f'{split_file}: needs columns wsi_id, split (found {list(df.columns)}).')
    refuse_empty_cells(df, ['wsi_id', 'split'], split_file)
    splits: Dict[str, str] = {}
    for row, (wsi, split) in enumerate(zip(df['wsi_id'], df['split'])):
        if splits.setdefault(wsi, split) != split:
            first = int(df.index[df['wsi_id'] == wsi][0]) + 2
            raise ValueError(f'{split_file}: WSI {wsi!r} is listed as {splits[wsi]!r} (row {first}) and as '
                             f'{split!r} (row {row + 2}); a slide belongs to one split.')
    return splits


def group_patches(img_dir: str, wsi_ids) -> Dict[str, List[str]]:
    """``{wsi_id: sorted patch file names}`` for ``{id}_*.jpg`` files in ``img_dir`` (longest id prefix wins)."""
    ids = set(wsi_ids)
    groups: Dict[str, List[str]] = defaultdict(list)
    with os.scandir(img_dir) as it:
        for entry in it:
            name = entry.name
            if not name.lower().endswith('.jpg'):
                continue
            cuts = [i for i, ch in enumerate(name) if ch == '_']
            owner = next((name[:i] for i in reversed(cuts) if name[:i] in ids), None)
            if owner is not None:
                groups[owner].append(name)
    return {w: sorted(v) for w, v in groups.items()}


@DATASETS.register_module()
class PatchGastricDataset(FewShotMixin, BaseDataset):
    """PatchGastric (stomach adenocarcinoma subtypes, 300x300 patches at 20x) as downloaded, CITE's 3 classes.

    Layout::

        data_root/captions.csv              # one row per WSI: id, subtype, text
        data_root/patches_captions/{id}_*.jpg

    Subtype strings -> classes: ``Well differentiated tubular adenocarcinoma`` -> 0, ``Moderately
    differentiated tubular adenocarcinoma`` -> 1, ``Poorly differentiated adenocarcinoma, non-solid type`` and
    ``..., solid type`` -> 2; other subtypes are excluded (logged). Each data info carries ``wsi_id``,
    ``subtype`` and the slide's ``caption`` text.

    Splits are by WSI (no slide in two splits), CITE's protocol: per class, ``eval_ratio`` of the slides
    (seeded) form ``'test'`` and the rest the few-shot pool ``'train'``; ``split_mode='cite'`` draws exactly the
    slides CITE's ``tools/ann.py`` holds out (captions rows in file order). With ``split_file`` the assignment is
    read from that CSV (``wsi_id, split``; written by ``tools/dataset_converters/patchgastric_split.py``),
    otherwise it is computed in memory with the same function
    (:func:`~mmmedfm.datasets.few_shot.split_wsis_per_class`).

    Args:
        data_root (str): Dataset root.
        ann_file (str): Captions CSV relative to ``data_root``. Defaults to ``'captions.csv'``.
        data_prefix (str): Patch folder relative to ``data_root``. Defaults to ``'patches_captions'``.
        split (str, optional): ``'train'`` (few-shot pool) or ``'test'`` (held out); None keeps every slide.
        split_file (str, optional): Split CSV relative to ``data_root`` (or absolute). Defaults to None.
        eval_ratio (float): Held-out share of each class's slides for the in-memory split. Defaults to 0.8.
        split_seed (int): Seed of the in-memory split. Defaults to 0 (CITE's).
        split_mode (str): ``'cite'`` (CITE's draw, default) or ``'per_class'`` (one seeded draw per class on
            sorted ids, independent of the file order); see :func:`~mmmedfm.datasets.few_shot.split_wsis_per_class`.
        **kwargs: Few-shot keys of :class:`~mmmedfm.datasets.few_shot.FewShotMixin` (CITE: ``num_wsis=k`` with
            ``wsi_selection='most_patches'``) and ``BaseDataset`` arguments.
    """

    METAINFO = dict(classes=PATCHGASTRIC_CLASSES, templates=PATCHGASTRIC_TEMPLATES)

    def __init__(self, data_root: str = '', ann_file: str = 'captions.csv',
                 data_prefix: str = 'patches_captions', split: Optional[str] = None,
                 split_file: Optional[str] = None, eval_ratio: float = 0.8, split_seed: int = 0, split_mode: str = 'cite',
                 **kwargs):
        if split is not None and split not in SPLITS:
            raise ValueError(f'PatchGastricDataset: split must be one of {SPLITS} or None, got {split!r}')
        if split_mode not in SPLIT_MODES:
            raise ValueError(f'PatchGastricDataset: split_mode must be one of {SPLIT_MODES}, got {split_mode!r}')
        self.split, self.eval_ratio, self.split_seed, self.split_mode = split, eval_ratio, split_seed, split_mode
        self.split_file = osp.join(data_root, split_file) if split_file else None
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def wsi_splits(self, captions: pd.DataFrame) -> Dict[str, str]:
        """``{wsi_id: 'train' | 'test'}`` for the kept slides, from ``split_file`` or computed in memory."""
        if self.split_file is None:
            return split_wsis_per_class(dict(zip(captions['wsi_id'], captions['gt_label'])), self.eval_ratio,
                                        self.split_seed, self.split_mode)
        splits = read_split_file(self.split_file)
        missing = sorted(set(captions['wsi_id']) - set(splits))
        if missing:
            raise ValueError(f'{self.split_file}: {len(missing)} WSIs of {self.ann_file} have no split '
                             f'(e.g. {missing[:3]}); rewrite it with patchgastric_split.py.')
        bad = sorted(set(splits.values()) - set(SPLITS))
        if bad:
            raise ValueError(f'{self.split_file}: unknown split name(s) {bad}; expected {SPLITS}.')
        return splits

    def load_data_list(self) -> List[dict]:
        captions = read_captions(self.ann_file)
        if self.split is not None:
            splits = self.wsi_splits(captions)
            captions = captions[captions['wsi_id'].map(splits) == self.split]
        img_dir = self.data_prefix['img_path']
        patches = group_patches(img_dir, captions['wsi_id'])
        no_patches = sorted(set(captions['wsi_id']) - set(patches))
        if no_patches:
            print_log(f'{img_dir}: {len(no_patches)} of {len(captions)} WSIs have no patch files '
                      f'(e.g. {no_patches[:3]}); they are skipped.', logger='current', level=logging.WARNING)
        data_list = []
        for row in captions.itertuples(index=False):
            for name in patches.get(row.wsi_id, []):
                data_list.append(dict(img_path=osp.join(img_dir, name), gt_label=int(row.gt_label),
                                      wsi_id=row.wsi_id, subtype=row.subtype, caption=str(row.text)))
        if not data_list:
            raise RuntimeError(f'PatchGastricDataset: no patches found in {img_dir} for split={self.split!r}.')
        return data_list
