"""PatchCSVDataset (CSV/XLSX) and WSIFolderDataset (class folders, slide id from the file name)."""
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mmmedfm.datasets import PatchCSVDataset, WSIFolderDataset, select_wsis


def _infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


@pytest.fixture
def csv_rows():
    return pd.DataFrame({'path': [f's{i % 4}/p{i}.png' for i in range(12)],
                         'label': ['tumour', 'normal', 'stroma'] * 4,
                         'slide_id': [f's{i % 4}' for i in range(12)]})


@pytest.mark.parametrize('ext', ['csv', 'xlsx'])
def test_class_names_inferred_sorted(tmp_path, csv_rows, ext):
    path = tmp_path / f'ann.{ext}'
    csv_rows.to_csv(path, index=False) if ext == 'csv' else csv_rows.to_excel(path, index=False)
    ds = PatchCSVDataset(ann_file=path.name, data_root=str(tmp_path), data_prefix='img')
    assert ds.metainfo['classes'] == ('normal', 'stroma', 'tumour')
    infos = _infos(ds)
    assert [i['gt_label'] for i in infos] == [['normal', 'stroma', 'tumour'].index(n) for n in csv_rows['label']]
    assert [i['wsi_id'] for i in infos] == csv_rows['slide_id'].tolist()
    assert infos[0]['img_path'] == str(tmp_path / 'img' / 's0/p0.png')


def test_classes_from_config_and_int_labels(tmp_path, csv_rows):
    csv_rows.to_csv(tmp_path / 'a.csv', index=False)
    order = ['tumour', 'stroma', 'normal']
    ds = PatchCSVDataset(ann_file=str(tmp_path / 'a.csv'), metainfo=dict(classes=order))
    assert [i['gt_label'] for i in _infos(ds)] == [order.index(n) for n in csv_rows['label']]
    ints = csv_rows.assign(label=[0, 2, 1] * 4).drop(columns='slide_id')
    ints.to_csv(tmp_path / 'b.csv', index=False)
    ds = PatchCSVDataset(ann_file=str(tmp_path / 'b.csv'))
    assert ds.metainfo['classes'] == ('0', '1', '2')
    assert [i['gt_label'] for i in _infos(ds)] == [0, 2, 1] * 4
    assert all(i['wsi_id'] is None for i in _infos(ds))
    with pytest.raises(ValueError, match='no wsi_id'):
        PatchCSVDataset(ann_file=str(tmp_path / 'b.csv'), num_wsis=1)


def test_bad_rows_are_named(tmp_path, csv_rows):
    csv_rows.loc[5, 'label'] = 'tumor'
    csv_rows.to_csv(tmp_path / 'a.csv', index=False)
    with pytest.raises(ValueError, match=r"row 7: label 'tumor' is not one of the classes"):
        PatchCSVDataset(ann_file=str(tmp_path / 'a.csv'), metainfo=dict(classes=['normal', 'stroma', 'tumour']))
    csv_rows.loc[5, 'label'] = None
    csv_rows.to_csv(tmp_path / 'a.csv', index=False)
    with pytest.raises(ValueError, match="a.csv: row 7: empty 'label' cell"):
        PatchCSVDataset(ann_file=str(tmp_path / 'a.csv'))
    with pytest.raises(KeyError, match=r"missing column\(s\) \['file'\]"):
        PatchCSVDataset(ann_file=str(tmp_path / 'a.csv'), path_col='file')


def test_csv_few_shot_per_wsi(tmp_path, csv_rows):
    csv_rows['label'] = csv_rows['slide_id'].map({'s0': 'a', 's1': 'a', 's2': 'b', 's3': 'b'})
    csv_rows.to_csv(tmp_path / 'a.csv', index=False)
    ds = PatchCSVDataset(ann_file=str(tmp_path / 'a.csv'), num_wsis=1, wsi_selection='random', wsi_seed=5)
    full = _infos(PatchCSVDataset(ann_file=str(tmp_path / 'a.csv')))
    assert [i['img_path'] for i in _infos(ds)] == [i['img_path'] for i in select_wsis(full, 1, 'random', seed=5)]
    assert len({i['wsi_id'] for i in _infos(ds)}) == 2


@pytest.fixture
def folder_root(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    for cls, slides in [('normal', ['A1', 'A2']), ('tumour', ['B1', 'B2', 'B3'])]:
        os.makedirs(tmp_path / cls)
        for s in slides:
            for p in range(int(s[1]) + 1):  # slide X<n> has n + 1 patches
                Image.fromarray(img).save(tmp_path / cls / f'{s}_x{p}_y0.png')
    return str(tmp_path)


def test_folder_slide_ids_and_wsi_sampling(folder_root):
    ds = WSIFolderDataset(data_prefix=folder_root)
    infos = _infos(ds)
    assert ds.metainfo['classes'] == ('normal', 'tumour')
    assert {(i['wsi_id'], i['gt_label']) for i in infos} == {('A1', 0), ('A2', 0), ('B1', 1), ('B2', 1), ('B3', 1)}
    top = WSIFolderDataset(data_prefix=folder_root, num_wsis=1)  # most patches: A2 (3) and B3 (4)
    assert sorted({i['wsi_id'] for i in _infos(top)}) == ['A2', 'B3'] and len(top) == 7
    custom = WSIFolderDataset(data_prefix=folder_root, slide_id_regex=r'[AB]')
    assert {i['wsi_id'] for i in _infos(custom)} == {'A', 'B'}
    with pytest.raises(ValueError, match="slide_id_regex 'C' does not match"):
        WSIFolderDataset(data_prefix=folder_root, slide_id_regex='C')
