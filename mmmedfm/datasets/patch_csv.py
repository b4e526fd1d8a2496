import os.path as osp
from typing import List, Optional

import pandas as pd
from mmpretrain.datasets import BaseDataset

from mmmedfm.registry import DATASETS
from .few_shot import FewShotMixin
from .tables import read_table, refuse_duplicates, refuse_empty_cells


@DATASETS.register_module()
class PatchCSVDataset(FewShotMixin, BaseDataset):
    """Your own patches from one table: a CSV/XLSX with an image path, a label and optionally a slide id.

    Example ``ann_file``::

        path,label,slide_id
        slide01/patch_0001.png,tumour,slide01
        slide02/patch_0007.png,normal,slide02

    Labels are class names or integers. Classes come from ``metainfo=dict(classes=[...])`` in the config (their
    order fixes the label ids) or, when absent, are inferred: the sorted distinct names, or ``'0'..'n-1'`` for
    integer labels. Paths are relative to ``data_root/data_prefix`` unless absolute. Rows with an empty path or
    label, or an unknown class name, are refused with the row number.

    Args:
        ann_file (str): CSV/TSV/XLSX table, relative to ``data_root``.
        data_root (str): Dataset root. Defaults to ``''``.
        data_prefix (str): Image folder relative to ``data_root``. Defaults to ``''``.
        path_col (str): Image path column. Defaults to ``'path'``.
        label_col (str): Label column. Defaults to ``'label'``.
        slide_col (str, optional): Slide/patient id column; when the column is absent each image has
            ``wsi_id=None`` (per-WSI sampling then refuses to run). Defaults to ``'slide_id'``.
        **kwargs: Few-shot keys of :class:`~mmmedfm.datasets.few_shot.FewShotMixin` and ``BaseDataset``
            arguments (``metainfo``, ``pipeline``, ``test_mode``...).
    """

    def __init__(self, ann_file: str, data_root: str = '', data_prefix: str = '', path_col: str = 'path',
                 label_col: str = 'label', slide_col: Optional[str] = 'slide_id', **kwargs):
        self.path_col, self.label_col, self.slide_col = path_col, label_col, slide_col
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def _label_ids(self, labels: pd.Series) -> List[int]:
        classes = self._metainfo.get('classes')
        is_int = pd.api.types.is_integer_dtype(labels)
        if is_int:
            n = len(classes) if classes else int(labels.max()) + 1
            bad = labels[(labels < 0) | (labels >= n)]
            if len(bad):
                raise ValueError(f'{self.ann_file}: row {bad.index[0] + 2}: label {bad.iloc[0]} outside '
                                 f'0..{n - 1} ({n} classes).')
            if not classes:
                self._metainfo['classes'] = tuple(str(i) for i in range(n))
            return labels.astype(int).tolist()
        names = labels.astype(str).str.strip()
        if not classes:
            classes = tuple(sorted(names.unique()))
            self._metainfo['classes'] = classes
        index = {c: i for i, c in enumerate(classes)}
        unknown = names[~names.isin(index)]
        if len(unknown):
            raise ValueError(f'{self.ann_file}: row {unknown.index[0] + 2}: label {unknown.iloc[0]!r} is not one '
                             f'of the classes {list(classes)}.')
        return names.map(index).tolist()

    def load_data_list(self) -> List[dict]:
        df = read_table(self.ann_file)
        missing = [c for c in (self.path_col, self.label_col) if c not in df.columns]
        if missing:
            raise KeyError(f'{self.ann_file}: missing column(s) {missing} (found {list(df.columns)}); set '
                           '`path_col`/`label_col` in the dataset config.')
        refuse_empty_cells(df, [self.path_col, self.label_col], self.ann_file)
        refuse_duplicates(df[self.path_col].astype(str), self.ann_file, self.path_col)
        labels = self._label_ids(df[self.label_col])
        has_slide = bool(self.slide_col) and self.slide_col in df.columns
        img_dir = self.data_prefix.get('img_path', '')
        data_list = []
        for i, (path, label) in enumerate(zip(df[self.path_col].astype(str), labels)):
            slide = df[self.slide_col].iloc[i] if has_slide else None
            data_list.append(dict(img_path=osp.join(img_dir, path), gt_label=label,
                                  wsi_id=None if slide is None or pd.isna(slide) else str(slide)))
        return data_list
