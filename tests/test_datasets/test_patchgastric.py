"""PatchGastricDataset on a synthetic captions.csv + patches_captions/ in the real layout."""
import glob
import os.path as osp
from collections import Counter

import pandas as pd
import pytest

from mmmedfm.datasets import PatchGastricDataset, split_wsis_per_class
from mmmedfm.datasets.patchgastric import PATCHGASTRIC_SUBTYPES
from tests.helpers import load_tool


def _infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


def _expected(root):
    """Independent reading: kept captions rows and the {id}_*.jpg files of each."""
    df = pd.read_csv(osp.join(root, 'captions.csv'), dtype={'id': str})
    df = df[df['subtype'].isin(PATCHGASTRIC_SUBTYPES)]
    files = {w: sorted(glob.glob(osp.join(root, 'patches_captions', f'{w}_*.jpg'))) for w in df['id']}
    return df, files


def test_subtypes_to_three_classes_with_captions(patchgastric_root):
    ds = PatchGastricDataset(data_root=patchgastric_root)
    infos = _infos(ds)
    df, files = _expected(patchgastric_root)
    assert sorted(i['img_path'] for i in infos) == sorted(f for v in files.values() for f in v)
    label_of = {r.id: PATCHGASTRIC_SUBTYPES[r.subtype] for r in df.itertuples()}
    text_of = dict(zip(df['id'], df['text']))
    for i in infos:
        assert osp.basename(i['img_path']).startswith(i['wsi_id'] + '_')
        assert i['gt_label'] == label_of[i['wsi_id']]
        assert i['caption'] == text_of[i['wsi_id']]
    # Both poorly differentiated strings are class 2; the excluded subtype is gone.
    assert {i['subtype'] for i in infos if i['gt_label'] == 2} == {
        'Poorly differentiated adenocarcinoma, non-solid type', 'Poorly differentiated adenocarcinoma, solid type'}
    assert 'Signet ring cell carcinoma' not in {i['subtype'] for i in infos}
    assert ds.metainfo['classes'][2] == 'poorly differentiated adenocarcinoma'


def test_wsi_disjoint_split_in_memory(patchgastric_root):
    train = PatchGastricDataset(data_root=patchgastric_root, split='train')
    test = PatchGastricDataset(data_root=patchgastric_root, split='test', test_mode=True)
    train_wsis, test_wsis = {i['wsi_id'] for i in _infos(train)}, {i['wsi_id'] for i in _infos(test)}
    assert not train_wsis & test_wsis
    assert len(train) + len(test) == len(PatchGastricDataset(data_root=patchgastric_root))
    df, files = _expected(patchgastric_root)
    split = split_wsis_per_class(dict(zip(df['id'], df['subtype'].map(PATCHGASTRIC_SUBTYPES))), 0.8, 0)
    assert train_wsis == {w for w, s in split.items() if s == 'train' and files[w]}
    # Per class: 11 slides in captions (10 + one without patches) -> int(8.8) = 8 held out (CITE floors);
    # class 2: 20 -> 16.
    per_class = Counter((lab, s) for w, s in split.items()
                        for lab in [PATCHGASTRIC_SUBTYPES[df.set_index('id').loc[w, 'subtype']]])
    assert per_class == {(0, 'test'): 8, (0, 'train'): 3, (1, 'test'): 8, (1, 'train'): 3,
                         (2, 'test'): 16, (2, 'train'): 4}
    # The per-class mode rounds: 9 of 11 held out.
    ours = PatchGastricDataset(data_root=patchgastric_root, split='train', split_mode='per_class')
    assert len({i['wsi_id'] for i in _infos(ours)}) <= 2 + 2 + 4


def test_split_file_tool_roundtrip(patchgastric_root, tmp_path, capsys):
    tool = load_tool('tools/dataset_converters/patchgastric_split.py')
    out = tool.main([patchgastric_root, '--out', str(tmp_path / 'split.csv')])
    table = pd.read_csv(out, dtype={'wsi_id': str})
    assert {'wsi_id', 'subtype', 'gt_label', 'split', 'num_patches'} <= set(table.columns)
    _, files = _expected(patchgastric_root)
    assert dict(zip(table['wsi_id'], table['num_patches'])) == {w: len(f) for w, f in files.items()}
    with pytest.raises(FileExistsError, match='--force'):
        tool.main([patchgastric_root, '--out', out])
    from_file = PatchGastricDataset(data_root=patchgastric_root, split='train', split_file=out)
    in_memory = PatchGastricDataset(data_root=patchgastric_root, split='train')
    assert _infos(from_file) == _infos(in_memory)
    # An edited split file is what the dataset reads.
    table.loc[table['split'] == 'test', 'split'] = 'train'
    table.to_csv(out, index=False)
    everything = PatchGastricDataset(data_root=patchgastric_root, split='train', split_file=out)
    assert len(everything) == len(PatchGastricDataset(data_root=patchgastric_root))


def test_cite_k_wsis_most_patches(patchgastric_root):
    ds = PatchGastricDataset(data_root=patchgastric_root, split='train', num_wsis=2)
    infos = _infos(ds)
    pool = pd.DataFrame(_infos(PatchGastricDataset(data_root=patchgastric_root, split='train')))
    sizes = pool.groupby(['gt_label', 'wsi_id']).size().reset_index(name='n')
    expected = set(sizes.sort_values(['n', 'wsi_id'], ascending=[False, True]).groupby('gt_label').head(2)['wsi_id'])
    assert {i['wsi_id'] for i in infos} == expected
    assert len(infos) == int(pool['wsi_id'].isin(expected).sum())
    with pytest.raises(ValueError, match=r"num_wsis=5 but class 'well differentiated tubular adenocarcinoma'"):
        PatchGastricDataset(data_root=patchgastric_root, split='train', num_wsis=5)


def test_bad_inputs_are_named(tmp_path, patchgastric_root):
    with pytest.raises(ValueError, match="split must be one of"):
        PatchGastricDataset(data_root=patchgastric_root, split='val')
    with pytest.raises(FileNotFoundError, match='patchgastric_split.py'):
        PatchGastricDataset(data_root=patchgastric_root, split='train', split_file='nope.csv')
    pd.DataFrame({'id': ['a'], 'text': ['t']}).to_csv(tmp_path / 'captions.csv', index=False)
    with pytest.raises(KeyError, match=r"missing column\(s\) \['subtype'\]"):
        PatchGastricDataset(data_root=str(tmp_path))
