"""FewShotRecordHook writes the training images of a run to the work dir."""
from types import SimpleNamespace

import pandas as pd
from mmengine.config import Config
from mmengine.dataset import RepeatDataset

from mmmedfm.datasets import SICAPv2Dataset
from mmmedfm.engine.hooks import FewShotRecordHook


def test_support_csv_matches_the_dataset(tmp_path, sicapv2_root):
    ds = SICAPv2Dataset(data_root=sicapv2_root, ann_file='partition/Test/Train.xlsx', num_shots=3, shot_seed=2)
    runner = SimpleNamespace(work_dir=str(tmp_path),
                             train_loop=SimpleNamespace(dataloader=SimpleNamespace(dataset=RepeatDataset(ds, 2))))
    FewShotRecordHook().before_train(runner)
    table = pd.read_csv(tmp_path / 'few_shot_support.csv', dtype=str)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert list(table.columns) == ['path', 'label', 'class', 'wsi']
    assert table['path'].tolist() == [i['img_path'] for i in infos]
    assert table['label'].astype(int).tolist() == [i['gt_label'] for i in infos]
    assert table['class'].tolist() == [('NC', 'G3', 'G4', 'G5')[i['gt_label']] for i in infos]
    assert table['wsi'].tolist() == [i['wsi_id'] for i in infos]
    assert table.groupby('class').size().to_dict() == {'G3': 3, 'G4': 3, 'G5': 3, 'NC': 3}


def test_every_run_records_its_support():
    cfg = Config.fromfile('configs/_base_/default_runtime.py')
    assert dict(type='FewShotRecordHook') in cfg.custom_hooks
