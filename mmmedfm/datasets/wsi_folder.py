import os.path as osp
import re
from typing import List

from mmpretrain.datasets import CustomDataset

from mmmedfm.registry import DATASETS
from .few_shot import FewShotMixin


@DATASETS.register_module()
class WSIFolderDataset(FewShotMixin, CustomDataset):
    """ImageNet-style folders (one sub-folder per class) whose file names start with the slide id.

    Layout::

        data_prefix/tumour/slide01_x512_y1024.png
        data_prefix/normal/slide02_x0_y0.png

    Folder reading is MMPretrain's ``CustomDataset`` (classes = sorted folder names unless
    ``metainfo=dict(classes=...)`` is given); this class only adds ``wsi_id``, taken from the file name by
    ``slide_id_regex`` (its first group, else the whole match), so per-WSI few-shot sampling works as for
    SICAPv2/PatchGastric.

    Args:
        slide_id_regex (str): Applied with ``re.match`` to the file name (no folders). Defaults to
            ``r'([^_]+)'``: the part before the first ``'_'`` (the whole stem if there is none).
        **kwargs: Few-shot keys of :class:`~mmmedfm.datasets.few_shot.FewShotMixin` and ``CustomDataset``
            arguments (``data_root``, ``data_prefix``, ``metainfo``, ``pipeline``...).
    """

    def __init__(self, slide_id_regex: str = r'([^_]+)', **kwargs):
        self.slide_id_regex = re.compile(slide_id_regex)
        super().__init__(**kwargs)

    def slide_id(self, img_path: str) -> str:
        name = osp.splitext(osp.basename(img_path))[0]
        m = self.slide_id_regex.match(name)
        if not m:
            raise ValueError(f'{img_path}: slide_id_regex {self.slide_id_regex.pattern!r} does not match the '
                             f'file name {name!r}.')
        return m.group(1) if m.groups() else m.group(0)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        for d in data_list:
            d['wsi_id'] = self.slide_id(d['img_path'])
        return data_list
