import os.path as osp
from typing import List

from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset

from mmmedfm.registry import DATASETS
from .few_shot import FewShotMixin
from .tables import read_table, refuse_duplicates, refuse_empty_cells, refuse_non_binary

SICAPV2_CLASSES = ('NC', 'G3', 'G4', 'G5')
# Descriptions of the seed notebook (PEFT-MedVLMs 1.5), more informative than the grade names.
SICAPV2_DESCRIPTIONS = {
    'NC': ['benign glands'],
    'G3': ['atrophic dense glands'],
    'G4': ['cribriform ill-formed fused papillary patterns'],
    'G5': ['isolated nest cells without lumen roseting patterns'],
}
SICAPV2_TEMPLATES = ['a histopathology slide showing [CLS]', 'histopathology image of [CLS]',
                     'pathology tissue showing [CLS]', 'presence of [CLS] tissue on image']


def wsi_id_from_name(image_name: str) -> str:
    """SICAPv2 patch names start with the slide id: ``16B0001851_Block_Region_1_...jpg`` -> ``16B0001851``."""
    return image_name.split('_Block')[0]


@DATASETS.register_module()
class SICAPv2Dataset(FewShotMixin, BaseDataset):
    """SICAPv2 prostate Gleason patches, read from the original partition spreadsheets.

    Layout (as downloaded)::

        data_root/images/*.jpg
        data_root/partition/Test/{Train,Test}.xlsx
        data_root/partition/Validation/Val{1..4}/{Train,Test}.xlsx

    Any of these spreadsheets is an ``ann_file``: the official split (``partition/Test/Train.xlsx`` for
    training, ``partition/Test/Test.xlsx`` for evaluation) or a cross-validation fold
    (``partition/Validation/Val2/Train.xlsx`` with its ``Val2/Test.xlsx`` as validation).

    Columns ``image_name, NC, G3, G4, G5, G4C``. The label is the single hot class among ``NC, G3, G4, G5``
    (in that order, labels 0..3). **G4C decision:** ``G4C`` (cribriform) is a sub-pattern of Gleason 4 that
    the spreadsheets flag *together with* ``G4``; it is not a fifth class, so it never changes the label and
    is kept in the data info as ``cribriform`` (0/1) for analysis. Rows with zero or several hot labels among
    ``NC, G3, G4, G5`` are dropped and their count is logged. The WSI id (the part of ``image_name`` before
    ``_Block``) is kept as ``wsi_id``. A row with ``G4C`` set but none of ``NC, G3, G4, G5`` has zero hot
    labels and is dropped like any other (the log says how many such rows there were).

    Args:
        ann_file (str): Partition spreadsheet, relative to ``data_root``.
        data_root (str): Dataset root.
        data_prefix (str): Image folder relative to ``data_root``. Defaults to ``'images'``.
        **kwargs: Few-shot keys of :class:`~mmmedfm.datasets.few_shot.FewShotMixin` (``num_shots``,
            ``shot_seed``, ``num_wsis``, ``wsi_selection``, ``wsi_seed``; train split only) and
            ``mmpretrain.datasets.BaseDataset`` arguments (``pipeline``, ``test_mode``...).
    """

    METAINFO = dict(classes=SICAPV2_CLASSES, descriptions=SICAPV2_DESCRIPTIONS, templates=SICAPV2_TEMPLATES)

    def __init__(self, ann_file: str, data_root: str = '', data_prefix: str = 'images', **kwargs):
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        df = read_table(self.ann_file, 'SICAPv2 partition file')
        missing = [c for c in ('image_name', *SICAPV2_CLASSES) if c not in df.columns]
        if missing:
            raise KeyError(f'{self.ann_file}: missing column(s) {missing}; SICAPv2 partitions have '
                           f'image_name, NC, G3, G4, G5, G4C (found {list(df.columns)}).')
        refuse_empty_cells(df, ['image_name'], self.ann_file)
        refuse_non_binary(df, [c for c in (*SICAPV2_CLASSES, 'G4C') if c in df.columns], self.ann_file)
        refuse_duplicates(df['image_name'].astype(str), self.ann_file, 'image_name')
        onehot = df[list(SICAPV2_CLASSES)].astype(int)
        valid = onehot.sum(axis=1) == 1
        if (~valid).any():
            g4c_only = int(((df.get('G4C', 0) == 1) & (onehot.sum(axis=1) == 0)).sum())
            print_log(f'{self.ann_file}: dropped {int((~valid).sum())} of {len(df)} rows without exactly one '
                      f'of {list(SICAPV2_CLASSES)} set ({g4c_only} of them had only G4C set).',
                      logger='current')
        img_dir = self.data_prefix['img_path']
        data_list = []
        for row, labels in zip(df[valid].itertuples(index=False), onehot[valid].to_numpy()):
            name = str(row.image_name)
            data_list.append(dict(img_path=osp.join(img_dir, name), gt_label=int(labels.argmax()),
                                  image_name=name, wsi_id=wsi_id_from_name(name),
                                  cribriform=int(getattr(row, 'G4C', 0) or 0)))
        return data_list
