"""Seeded, nested few-shot sampling per class and per WSI, through the functions and the datasets."""
from collections import Counter

import pytest

from mmmedfm.datasets import SICAPv2Dataset, sample_few_shot, select_wsis, split_wsis_per_class


def _paths(ds):
    return [ds.get_data_info(i)['img_path'] for i in range(len(ds))]


def _pool(n_classes=3, wsis=(5, 4, 6), patches=lambda w: 1 + w % 4):
    """A data list: class c has wsis[c] slides, slide w has patches(w) images."""
    return [dict(img_path=f'c{c}_w{w}_p{p}.jpg', gt_label=c, wsi_id=f'c{c}w{w}')
            for c in range(n_classes) for w in range(wsis[c]) for p in range(patches(w))]


def _train(root, **kw):
    return SICAPv2Dataset(data_root=root, ann_file='partition/Test/Train.xlsx', **kw)


def test_num_shots_seeded_and_nested(sicapv2_root):
    sets = {k: set(_paths(_train(sicapv2_root, num_shots=k, shot_seed=3))) for k in (2, 4, 8)}
    assert sets[2] < sets[4] < sets[8]
    again = _train(sicapv2_root, num_shots=4, shot_seed=3)
    assert set(_paths(again)) == sets[4]
    assert Counter(again.get_data_info(i)['gt_label'] for i in range(len(again))) == {c: 4 for c in range(4)}
    assert set(_paths(_train(sicapv2_root, num_shots=4, shot_seed=4))) != sets[4]


def test_k_larger_than_available_names_the_class(sicapv2_root):
    with pytest.raises(ValueError, match=r"num_shots=13 but class 'NC' \(label 0\) has only 12"):
        _train(sicapv2_root, num_shots=13)
    with pytest.raises(ValueError, match=r"num_wsis=4 but class 'NC' \(label 0\) has only 3"):
        _train(sicapv2_root, num_wsis=4)


def test_sampling_refused_on_test_split(sicapv2_root):
    with pytest.raises(ValueError, match='never touches an evaluation split'):
        SICAPv2Dataset(data_root=sicapv2_root, ann_file='partition/Test/Test.xlsx', test_mode=True, num_shots=2)


def test_select_wsis_most_patches_matches_groupby():
    import pandas as pd
    data = _pool()
    df = pd.DataFrame(data)
    counts = df.groupby(['gt_label', 'wsi_id']).size().reset_index(name='n')
    for k in (1, 2, 3):
        expected = set()
        for _, g in counts.groupby('gt_label'):
            expected |= set(g.sort_values(['n', 'wsi_id'], ascending=[False, True])['wsi_id'][:k])
        kept = select_wsis(data, k, 'most_patches')
        assert {d['wsi_id'] for d in kept} == expected
        assert len(kept) == int(df['wsi_id'].isin(expected).sum())  # all patches of the kept slides


def test_select_wsis_random_seeded_nested():
    data = _pool()
    pick = lambda k, s: {d['wsi_id'] for d in select_wsis(data, k, 'random', seed=s)}  # noqa: E731
    assert pick(1, 0) < pick(2, 0) < pick(4, 0)
    assert pick(2, 0) == pick(2, 0)
    assert any(pick(2, 0) != pick(2, s) for s in range(1, 5))
    assert Counter(w[:2] for w in pick(2, 7)) == {'c0': 2, 'c1': 2, 'c2': 2}


def test_select_wsis_errors():
    with pytest.raises(ValueError, match=r"class 'b' \(label 1\) has only 4"):
        select_wsis(_pool(), 5, class_names=['a', 'b', 'c'])
    with pytest.raises(ValueError, match='no wsi_id'):
        select_wsis([dict(img_path='x.jpg', gt_label=0, wsi_id=None)], 1)
    with pytest.raises(ValueError, match='wsi_selection'):
        select_wsis(_pool(), 1, 'largest')


def test_wsis_then_shots_stay_inside_the_slides(sicapv2_root):
    ds = _train(sicapv2_root, num_wsis=2, wsi_selection='random', wsi_seed=1, num_shots=3)
    full = _train(sicapv2_root)
    wsis = {d['wsi_id'] for d in select_wsis([full.get_data_info(i) for i in range(len(full))], 2, 'random',
                                             seed=1)}
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert len(infos) == 12 and {i['wsi_id'] for i in infos} <= wsis


def test_split_wsis_per_class_is_disjoint_and_per_class():
    labels = {f'w{i:02d}': i % 3 for i in range(31)}  # class sizes 11, 10, 10
    for mode, n0 in (('per_class', 9), ('cite', 8)):  # round(0.8 * 11) vs CITE's int(0.8 * 11)
        split = split_wsis_per_class(labels, 0.8, seed=0, mode=mode)
        assert set(split) == set(labels)
        per_class = Counter((labels[w], s) for w, s in split.items())
        assert per_class == {(0, 'test'): n0, (0, 'train'): 11 - n0, (1, 'test'): 8, (1, 'train'): 2,
                             (2, 'test'): 8, (2, 'train'): 2}
        assert split == split_wsis_per_class(labels, 0.8, seed=0, mode=mode)
        assert split != split_wsis_per_class(labels, 0.8, seed=1, mode=mode)


def test_sample_few_shot_function_is_nested_for_every_seed():
    data = _pool()
    for seed in range(3):
        prev = set()
        for k in (1, 2, 4):
            cur = {d['img_path'] for d in sample_few_shot(data, k, seed)}
            assert prev < cur
            prev = cur


def test_per_class_split_is_sklearns_stratified_split():
    from sklearn.model_selection import StratifiedShuffleSplit
    labels = {f'w{i:02d}': i % 3 for i in range(31)}
    ids = sorted(labels)
    _, test_idx = next(StratifiedShuffleSplit(1, test_size=0.8, random_state=5).split(ids, [labels[w] for w in ids]))
    split = split_wsis_per_class(labels, 0.8, seed=5, mode='per_class')
    assert {w for w, s in split.items() if s == 'test'} == {ids[i] for i in test_idx}
    assert set(split_wsis_per_class(labels, 1., mode='per_class').values()) == {'test'}
    assert set(split_wsis_per_class(labels, 0., mode='per_class').values()) == {'train'}
    with pytest.raises(ValueError, match=r"slides per class: \{0: 10, 1: 10, 2: 1\}"):
        split_wsis_per_class({**{f'a{i}': 0 for i in range(10)}, **{f'b{i}': 1 for i in range(10)}, 'c0': 2},
                             0.8, mode='per_class')
