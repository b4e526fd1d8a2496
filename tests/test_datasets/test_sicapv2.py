"""SICAPv2Dataset on crafted partition spreadsheets with the real columns."""
import os.path as osp

import pandas as pd
import pytest

from mmmedfm.datasets import SICAPv2Dataset

COLS = ['NC', 'G3', 'G4', 'G5', 'G4C']
ROWS = [  # image_name, NC, G3, G4, G5, G4C
    ('16B0001851_Block_Region_1_0_0_xini_6803_yini_59786.jpg', 1, 0, 0, 0, 0),
    ('16B0001851_Block_Region_2_0_0_xini_7000_yini_59786.jpg', 0, 1, 0, 0, 0),
    ('17B0003896_Block_Region_0_1_0_xini_1_yini_2.jpg', 0, 0, 1, 0, 1),  # cribriform G4
    ('18B0006169_Block_Region_3_2_1_xini_5_yini_6.jpg', 0, 0, 0, 1, 0),
    ('18B0006169_Block_Region_4_2_1_xini_7_yini_8.jpg', 0, 0, 0, 0, 0),  # no label: dropped
    ('18B0006169_Block_Region_5_2_1_xini_9_yini_9.jpg', 0, 1, 1, 0, 0),  # two labels: dropped
    ('19B0000001_Block_Region_6_0_0_xini_0_yini_0.jpg', 0, 0, 0, 0, 1),  # G4C only: dropped
]


@pytest.fixture
def crafted(tmp_path):
    fold = tmp_path / 'partition' / 'Validation' / 'Val3'
    fold.mkdir(parents=True)
    pd.DataFrame(ROWS, columns=['image_name', *COLS]).to_excel(fold / 'Train.xlsx', index=False)
    return str(tmp_path)


def test_labels_g4c_wsi_and_dropped_count(crafted, monkeypatch):
    logged = []
    monkeypatch.setattr('mmmedfm.datasets.sicapv2.print_log', lambda msg, **kw: logged.append(msg))
    ds = SICAPv2Dataset(data_root=crafted, ann_file='partition/Validation/Val3/Train.xlsx')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    # Independent decoding: rows with exactly one of NC..G5, label = position of the hot column.
    df = pd.DataFrame(ROWS, columns=['image_name', *COLS])
    keep = df[COLS[:4]].sum(axis=1) == 1
    assert [i['image_name'] for i in infos] == df.loc[keep, 'image_name'].tolist()
    assert [i['gt_label'] for i in infos] == df.loc[keep, COLS[:4]].to_numpy().argmax(1).tolist() == [0, 1, 2, 3]
    assert [i['cribriform'] for i in infos] == [0, 0, 1, 0]  # G4C kept as info, label stays G4 (2)
    assert [i['wsi_id'] for i in infos] == ['16B0001851', '16B0001851', '17B0003896', '18B0006169']
    assert infos[0]['img_path'] == osp.join(crafted, 'images', ROWS[0][0])
    assert logged == [f'{osp.join(crafted, "partition/Validation/Val3/Train.xlsx")}: dropped 3 of 7 rows without '
                      "exactly one of ['NC', 'G3', 'G4', 'G5'] set (1 of them had only G4C set)."]


def test_demo_layout_and_folds(sicapv2_root):
    train = SICAPv2Dataset(data_root=sicapv2_root, ann_file='partition/Test/Train.xlsx')
    assert len(train) == 4 * 12  # 3 malformed rows dropped
    fold_train = SICAPv2Dataset(data_root=sicapv2_root, ann_file='partition/Validation/Val1/Train.xlsx')
    fold_val = SICAPv2Dataset(data_root=sicapv2_root, ann_file='partition/Validation/Val1/Test.xlsx',
                              test_mode=True)
    wsis = lambda ds: {ds.get_data_info(i)['wsi_id'] for i in range(len(ds))}  # noqa: E731
    assert len(fold_train) + len(fold_val) == len(train)
    assert not wsis(fold_train) & wsis(fold_val)


def test_missing_column_is_named(tmp_path):
    (tmp_path / 'p').mkdir()
    pd.DataFrame({'image_name': ['a_Block_1.jpg'], 'NC': [1], 'G3': [0]}).to_excel(tmp_path / 'p/T.xlsx', index=False)
    with pytest.raises(KeyError, match=r"T.xlsx: missing column\(s\) \['G4', 'G5'\]"):
        SICAPv2Dataset(data_root=str(tmp_path), ann_file='p/T.xlsx')
