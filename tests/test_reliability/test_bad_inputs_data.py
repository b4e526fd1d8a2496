"""More bad inputs (data files and caches): one clear error naming the file / row, nothing written."""
import os.path as osp
import shutil

import pandas as pd
import pytest
import torch

from mmmedfm.cache import FeatureSet
from mmmedfm.registry import DATASETS

TRAIN_XLSX = osp.join('partition', 'Test', 'Train.xlsx')


@pytest.fixture
def data_copy(sicapv2_root, tmp_path):
    return shutil.copytree(sicapv2_root, tmp_path / 'SICAPv2')


def _sicap(root, **kw):
    return DATASETS.build(dict(type='SICAPv2Dataset', data_root=str(root), ann_file=TRAIN_XLSX, pipeline=[], **kw))


def test_image_listed_twice_in_partition(data_copy):
    path = osp.join(data_copy, TRAIN_XLSX)
    df = pd.read_excel(path)
    df = pd.concat([df, df.iloc[[3]]], ignore_index=True)
    df.to_excel(path, index=False)
    name = df['image_name'][3]
    with pytest.raises(ValueError, match=rf"Train\.xlsx: image_name '{name}' is listed more than once "
                                         rf"\(rows \[5, {len(df) + 1}\]\)"):
        _sicap(data_copy)


def test_image_listed_twice_in_own_csv(tmp_path):
    csv = tmp_path / 'patches.csv'
    pd.DataFrame(dict(path=['a.jpg', 'b.jpg', 'a.jpg'], label=['x', 'y', 'x'])).to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"patches\.csv: path 'a\.jpg' is listed more than once \(rows \[2, 4\]\)"):
        DATASETS.build(dict(type='PatchCSVDataset', ann_file=str(csv), classes=['x', 'y'], pipeline=[]))


def test_empty_class_with_few_shot(data_copy):
    path = osp.join(data_copy, TRAIN_XLSX)
    df = pd.read_excel(path)
    df[df['G5'] != 1].to_excel(path, index=False)
    with pytest.raises(ValueError, match=r"num_shots=2 but class 'G5' \(label 3\) has only 0 in this split"):
        _sicap(data_copy, num_shots=2)


def test_more_wsis_than_available(data_copy):
    with pytest.raises(ValueError, match=r"num_wsis=50 but class 'NC' \(label 0\) has only \d+"):
        _sicap(data_copy, num_wsis=50)


def test_corrupt_feature_cache(tmp_path):
    fs = FeatureSet(torch.randn(3, 4), torch.tensor([0, 1, 0]), ['a', 'b', 'c'], ['w', 'w', 'v'], ['x', 'y'])
    fs.save(str(tmp_path / 'train_abc'))
    (tmp_path / 'train_abc' / 'part_00000-of-00001.safetensors').write_bytes(b'\x80\x04not safetensors')
    with pytest.raises(ValueError, match=r'train_abc/part_00000-of-00001\.safetensors is unreadable .*delete'):
        FeatureSet.load(str(tmp_path / 'train_abc'))


def test_inconsistent_feature_cache(tmp_path):
    fs = FeatureSet(torch.randn(3, 4), torch.tensor([0, 1, 0]), ['a', 'b', 'c'], ['w', 'w', 'v'], ['x', 'y'])
    fs.save(str(tmp_path / 'train_abc'))
    index = tmp_path / 'train_abc' / 'index.json'
    index.write_text(index.read_text().replace('"image_ids": ["a", "b", "c"]', '"image_ids": ["a"]'))
    with pytest.raises(ValueError, match=r'train_abc: index.json lists .* do not match the 3 stored'):
        FeatureSet.load(str(tmp_path / 'train_abc'))
