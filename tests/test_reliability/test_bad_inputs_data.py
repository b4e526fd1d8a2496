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


@pytest.mark.parametrize('num_shots', [None, 2])
def test_class_missing_from_training_pool(data_copy, num_shots):
    path = osp.join(data_copy, TRAIN_XLSX)
    df = pd.read_excel(path)
    df[df['G5'] != 1].to_excel(path, index=False)
    with pytest.raises(ValueError, match=rf"SICAPv2Dataset: class\(es\) \['G5'\] have no training image in "
                                         rf"{path}: a 4-class model would learn 3 classes.*allow_missing_classes"):
        _sicap(data_copy, num_shots=num_shots)
    ds = _sicap(data_copy, num_shots=num_shots, allow_missing_classes=True)  # the explicit opt-out
    labels = sorted(ds.get_data_info(i)['gt_label'] for i in range(len(ds)))
    expected = df[df['G5'] != 1][['NC', 'G3', 'G4']]
    expected = expected[expected.sum(axis=1) == 1].to_numpy().argmax(axis=1)
    assert labels == ([0, 0, 1, 1, 2, 2] if num_shots else sorted(expected.tolist()))
    _sicap(data_copy, test_mode=True)  # an evaluation split may lack a class


def test_missing_class_with_few_shot_names_it(data_copy):
    path = osp.join(data_copy, TRAIN_XLSX)
    df = pd.read_excel(path)
    keep = df[df['G5'] == 1].index[:1].tolist() + df[df['G5'] != 1].index.tolist()  # one G5 image only
    df.loc[sorted(keep)].to_excel(path, index=False)
    with pytest.raises(ValueError, match=r"num_shots=2 but class 'G5' \(label 3\) has only 1 in this split"):
        _sicap(data_copy, num_shots=2)


@pytest.mark.parametrize('value', [1.7, -1, 2, 'x'])
def test_label_cells_must_be_0_or_1(data_copy, value):
    path = osp.join(data_copy, TRAIN_XLSX)
    df = pd.read_excel(path)
    df['G3'] = df['G3'].astype(object)
    df.loc[5, 'G3'] = value
    df.to_excel(path, index=False)
    with pytest.raises(ValueError, match=rf"Train\.xlsx: row 7: G3 = {value!r}; label cells must be 0 or 1"):
        _sicap(data_copy)


def test_empty_image_name_cell(data_copy):
    path = osp.join(data_copy, TRAIN_XLSX)
    df = pd.read_excel(path)
    df.loc[2, 'image_name'] = None
    df.to_excel(path, index=False)
    with pytest.raises(ValueError, match=r"Train\.xlsx: row 4: empty 'image_name' cell"):
        _sicap(data_copy)


def test_empty_partition_file(data_copy):
    path = osp.join(data_copy, TRAIN_XLSX)
    pd.read_excel(path).iloc[:0].to_excel(path, index=False)  # header only
    with pytest.raises(ValueError, match=r'Train\.xlsx: the table has no data rows'):
        _sicap(data_copy)


def test_partition_without_usable_rows(data_copy):
    path = osp.join(data_copy, TRAIN_XLSX)
    df = pd.read_excel(path)
    df[['NC', 'G3', 'G4', 'G5']] = 0  # no row has exactly one label
    df.to_excel(path, index=False)
    with pytest.raises(ValueError, match=r'SICAPv2Dataset: no usable image in .*Train\.xlsx'):
        _sicap(data_copy)


def test_csv_named_xlsx(data_copy):
    path = osp.join(data_copy, TRAIN_XLSX)
    pd.read_excel(path).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r'Train\.xlsx: cannot be read as an Excel workbook, as its name says'):
        _sicap(data_copy)


def test_contradictory_patchgastric_split_file(patchgastric_root, tmp_path):
    from mmmedfm.datasets.patchgastric import read_captions
    ids = read_captions(osp.join(patchgastric_root, 'captions.csv'))['wsi_id'].tolist()
    rows = [(w, 'train' if i % 2 else 'test') for i, w in enumerate(ids)] + [(ids[1], 'test')]
    split = tmp_path / 'split.csv'
    pd.DataFrame(rows, columns=['wsi_id', 'split']).to_csv(split, index=False)
    with pytest.raises(ValueError, match=rf"split\.csv: WSI '{ids[1]}' is listed as 'train' \(row 3\) and as "
                                         rf"'test' \(row {len(ids) + 2}\)"):
        DATASETS.build(dict(type='PatchGastricDataset', data_root=patchgastric_root, split='train',
                            split_file=str(split), pipeline=[]))


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


def test_feature_cache_with_wrong_shapes_names_the_shard(tmp_path):
    from safetensors.torch import save_file
    fs = FeatureSet(torch.randn(3, 4), torch.tensor([0, 1, 0]), ['a', 'b', 'c'], ['w', 'w', 'v'], ['x', 'y'])
    fs.save(str(tmp_path / 'train_abc'))
    shard = tmp_path / 'train_abc' / 'part_00000-of-00001.safetensors'
    save_file(dict(pooled=torch.randn(3, 5)), str(shard))  # another width than index.json records
    with pytest.raises(ValueError, match=r"part_00000-of-00001\.safetensors holds \{'pooled': \[3, 5\]\} but "
                                         r"index\.json says \{'pooled': \[3, 4\]\}; delete .*train_abc"):
        FeatureSet.load(str(tmp_path / 'train_abc'))


def test_feature_cache_with_bad_labels(tmp_path):
    fs = FeatureSet(torch.randn(3, 4), torch.tensor([0, 1, 0]), ['a', 'b', 'c'], ['w', 'w', 'v'], ['x', 'y'])
    fs.save(str(tmp_path / 'train_abc'))
    index = tmp_path / 'train_abc' / 'index.json'
    index.write_text(index.read_text().replace('"labels": [0, 1, 0]', '"labels": [0, 7, 0]'))
    with pytest.raises(ValueError, match=r'train_abc: index.json labels \[7\] are not class indices'):
        FeatureSet.load(str(tmp_path / 'train_abc'))


@pytest.mark.parametrize('damage', ['shard', 'shape', 'index'])
def test_corrupt_text_cache_is_rebuilt(tiny_clip_dir, tmp_path, damage):
    import json

    from safetensors.torch import save_file

    from mmmedfm.models.utils.text_cache import cached_class_embeddings
    prompts = [['benign glands'], ['dense glands'], ['fused glands']]
    cfg = dict(type='HFCLIPText', pretrained=tiny_clip_dir)
    fresh, scale = cached_class_embeddings(cfg, prompts, str(tmp_path))
    (folder, ) = tmp_path.glob('class_*')
    (shard, ) = folder.glob('part_*.safetensors')
    if damage == 'shard':
        shard.write_bytes(b'not safetensors')
    elif damage == 'shape':
        save_file(dict(class_embeddings=torch.randn(2, fresh.shape[1])), str(shard))
    else:
        (folder / 'index.json').write_text(json.dumps(dict(shards=[shard.name])))  # truncated header
    again, scale2 = cached_class_embeddings(cfg, prompts, str(tmp_path))  # warns, naming the folder
    torch.testing.assert_close(again, fresh, rtol=0, atol=0)
    assert scale2 == scale
    torch.testing.assert_close(cached_class_embeddings(cfg, prompts, str(tmp_path))[0], fresh, rtol=0, atol=0)
