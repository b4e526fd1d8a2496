"""CITE's PatchGastric split and k-WSI supports against a port of the official procedure (CITE `tools/ann.py`).

The synthetic captions table has 300 WSIs in shuffled row order, two excluded subtypes and distinct patch counts
within each class, so the official "most patches" ranking has no ties (ties follow the file-system listing
order there, which no reimplementation can reproduce).
"""
import os
import os.path as osp
import random

import pandas as pd
import pytest

from mmmedfm.datasets import PatchGastricDataset, split_wsis_per_class
from tests.helpers import load_tool

KEPT = {'Well differentiated tubular adenocarcinoma': 0,
        'Moderately differentiated tubular adenocarcinoma': 1,
        'Poorly differentiated adenocarcinoma, non-solid type': 2,
        'Poorly differentiated adenocarcinoma, solid type': 2}
EXCLUDED = ['Signet ring cell carcinoma', 'Mucinous adenocarcinoma']


@pytest.fixture(scope='module')
def captions_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cite_split'))
    rng = random.Random(123)
    subtypes = ([s for s in list(KEPT)[:2] for _ in range(81)] + [list(KEPT)[2]] * 47 + [list(KEPT)[3]] * 43
                + [s for s in EXCLUDED for _ in range(28)])
    ids = rng.sample(range(10000, 99999), len(subtypes))
    rows = [(f'S{i}', s, f'caption of S{i}') for i, s in zip(ids, subtypes)]
    rng.shuffle(rows)
    os.makedirs(osp.join(root, 'patches_captions'))
    counts = {}
    for label in (0, 1, 2):
        wsis = [r[0] for r in rows if KEPT.get(r[1]) == label]
        counts.update(zip(wsis, rng.sample(range(1, len(wsis) + 1), len(wsis))))
    for wsi, _, _ in rows:
        for j in range(counts.get(wsi, 1)):
            open(osp.join(root, 'patches_captions', f'{wsi}_{j}.jpg'), 'wb').close()
    pd.DataFrame(rows, columns=['id', 'subtype', 'text']).to_csv(osp.join(root, 'captions.csv'), index=False)
    return root


def _official(root, ks):
    """The official procedure, step by step: held-out ids and the k-WSI support ids for each k."""
    state = random.getstate()
    try:
        data = pd.read_csv(osp.join(root, 'captions.csv')).values.tolist()
        cls_of, id_lists = {}, [[], [], []]
        for wsi, subtype, _ in data:
            if subtype in KEPT:
                cls_of[wsi] = KEPT[subtype]
                id_lists[KEPT[subtype]].append(wsi)
        random.seed(0)
        held = [random.sample(ids, int(len(ids) * 0.8)) for ids in id_lists]
        train_all = []
        for name in os.listdir(osp.join(root, 'patches_captions')):
            wsi = name.split('_')[0]
            if not any(wsi in h for h in held) and wsi in cls_of:
                train_all.append((name, cls_of[wsi]))
        supports = {}
        for k in ks:
            chosen = set()
            for c in range(3):
                per_wsi = {}
                for name, label in train_all:
                    if label == c:
                        per_wsi.setdefault(name.split('_')[0], []).append(name)
                ranked = sorted(per_wsi.items(), key=lambda x: len(x[1]), reverse=True)
                chosen.update(w for w, _ in ranked[:k])
            supports[k] = chosen
        return set(sum(held, [])), supports
    finally:
        random.setstate(state)


def _wsis(ds):
    return {ds.get_data_info(i)['wsi_id'] for i in range(len(ds))}


def test_held_out_set_and_supports_equal_the_official_procedure(captions_root):
    held, supports = _official(captions_root, range(1, 17))
    test = PatchGastricDataset(data_root=captions_root, split='test', test_mode=True)
    assert _wsis(test) == held
    assert len(held) == 64 + 64 + 72
    names = os.listdir(osp.join(captions_root, 'patches_captions'))
    for k in range(1, 17):
        train = PatchGastricDataset(data_root=captions_root, split='train', num_wsis=k)
        assert _wsis(train) == supports[k], k
        # All patches of the chosen slides are used.
        assert len(train) == sum(f.split('_')[0] in supports[k] for f in names)


def test_split_tool_writes_either_mode(captions_root, tmp_path):
    held, _ = _official(captions_root, [])
    tool = load_tool('tools/dataset_converters/patchgastric_split.py')
    cite = pd.read_csv(tool.main([captions_root, '--out', str(tmp_path / 'c.csv')]), dtype={'wsi_id': str})
    assert set(cite.loc[cite['split'] == 'test', 'wsi_id']) == held
    per_class = pd.read_csv(tool.main([captions_root, '--mode', 'per_class', '--out', str(tmp_path / 'p.csv')]),
                            dtype={'wsi_id': str})
    ours_held = set(per_class.loc[per_class['split'] == 'test', 'wsi_id'])
    labels = dict(zip(per_class['wsi_id'], per_class['gt_label']))
    assert ours_held == {w for w, s in split_wsis_per_class(labels, 0.8, 0, mode='per_class').items() if s == 'test'}
    assert ours_held != held  # the per-class draw is a different (documented) split
    from_file = PatchGastricDataset(data_root=captions_root, split='test', split_file=str(tmp_path / 'c.csv'),
                                    test_mode=True)
    assert _wsis(from_file) == held


def test_split_mode_is_checked():
    with pytest.raises(ValueError, match="split mode must be one of"):
        split_wsis_per_class({'a': 0}, 0.8, 0, mode='sorted')
