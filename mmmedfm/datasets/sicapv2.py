import os.path as osp
from typing import List, Optional

import pandas as pd
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset

from mmmedfm.registry import DATASETS
from .few_shot import sample_few_shot

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
class SICAPv2Dataset(BaseDataset):
    """SICAPv2 prostate Gleason patches, read from the original partition spreadsheets.

    Layout (as downloaded)::

        data_root/images/*.jpg
        data_root/partition/Test/{Train,Test}.xlsx
        data_root/partition/Validation/Val{1..4}/{Train,Test}.xlsx

    Columns ``image_name, NC, G3, G4, G5, G4C``. The label is the single hot class among ``NC, G3, G4, G5``
    (in that order). ``G4C`` (cribriform) is a sub-pattern of G4 and already flagged in ``G4``, so it is kept
    in the data info but does not change the label. Rows with zero or several hot labels are dropped and
    counted in the log.

    Args:
        ann_file (str): Partition spreadsheet, relative to ``data_root``.
        data_root (str): Dataset root.
        data_prefix (str): Image folder relative to ``data_root``. Defaults to ``'images'``.
        num_shots (int, optional): Keep this many images per class (seeded, nested). Never set it on test.
        shot_seed (int): Seed of the few-shot draw. Defaults to 1 (the tutorial's).
        **kwargs: ``mmpretrain.datasets.BaseDataset`` arguments (``pipeline``, ``test_mode``...).
    """

    METAINFO = dict(classes=SICAPV2_CLASSES, descriptions=SICAPV2_DESCRIPTIONS, templates=SICAPV2_TEMPLATES)

    def __init__(self, ann_file: str, data_root: str = '', data_prefix: str = 'images',
                 num_shots: Optional[int] = None, shot_seed: int = 1, **kwargs):
        self.num_shots, self.shot_seed = num_shots, shot_seed
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'SICAPv2 partition file not found: {self.ann_file}')
        df = pd.read_excel(self.ann_file)
        missing = [c for c in ('image_name', *SICAPV2_CLASSES) if c not in df.columns]
        if missing:
            raise KeyError(f'{self.ann_file}: missing column(s) {missing}; SICAPv2 partitions have '
                           f'image_name, NC, G3, G4, G5, G4C (found {list(df.columns)}).')
        onehot = df[list(SICAPV2_CLASSES)].fillna(0).astype(int)
        valid = onehot.sum(axis=1) == 1
        if (~valid).any():
            print_log(f'{self.ann_file}: dropped {int((~valid).sum())} of {len(df)} rows without exactly one '
                      f'of {list(SICAPV2_CLASSES)} set.', logger='current')
        img_dir = self.data_prefix['img_path']
        data_list = []
        for row, labels in zip(df[valid].itertuples(index=False), onehot[valid].to_numpy()):
            name = str(row.image_name)
            data_list.append(dict(img_path=osp.join(img_dir, name), gt_label=int(labels.argmax()),
                                  image_name=name, wsi_id=wsi_id_from_name(name),
                                  cribriform=int(getattr(row, 'G4C', 0) or 0)))
        if self.num_shots:
            data_list = sample_few_shot(data_list, self.num_shots, self.shot_seed, SICAPV2_CLASSES)
        return data_list
