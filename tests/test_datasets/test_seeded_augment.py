"""Per-sample augmentation seeds: a training sample's augmentation depends only on (seed, epoch, index, draw),
not on the RNG state of the process that loads it; the caller's RNG streams are left untouched."""
import random

import numpy as np
import torch
from mmcv.transforms import Compose

from mmmedfm.datasets.seeded_augment import sample_seed
from mmmedfm.registry import DATASETS

PIPELINE = [dict(type='LoadImageFromFile'),
            dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
            dict(type='RandomRot90', prob=0.5), dict(type='PackInputs')]


def _dataset(root, **kw):
    return DATASETS.build(dict(type='SICAPv2Dataset', data_root=root, ann_file='partition/Test/Train.xlsx',
                               pipeline=PIPELINE, **kw))


def _by_hand(ds, idx, seed):
    """The pipeline under the per-sample seed, seeded by hand (python, numpy, torch)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return Compose(PIPELINE)(ds.get_data_info(idx))['inputs']


def test_sample_seed_is_stable_and_mixed():
    seeds = {sample_seed(0, e, i, d) for e in range(3) for i in range(50) for d in range(2)}
    assert len(seeds) == 300
    assert sample_seed(0, 1, 7) == int(np.random.SeedSequence([0, 1, 7, 0]).generate_state(1)[0])


def test_augmentation_depends_only_on_seed_epoch_index(sicapv2_root):
    ds = _dataset(sicapv2_root)
    ds.set_augment_epoch(5, 2)
    outs = []
    for process_seed in (1, 2):  # two "ranks" whose own generators are in different states
        ds.set_augment_epoch(5, 2)
        np.random.seed(process_seed)
        torch.manual_seed(process_seed)
        state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
        outs.append([ds[i]['inputs'] for i in range(len(ds))])
        assert (np.random.get_state()[1] == state[0]).all() and torch.equal(torch.get_rng_state(), state[1])
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    for i in (0, 3, 11):
        assert torch.equal(outs[0][i], _by_hand(ds, i, sample_seed(5, 2, i, 0)))
    assert ds.augment_seed(3) == sample_seed(5, 2, 3, 0)
    # A second load of the same sample in the same epoch is a new draw (class-balanced / infinite samplers).
    assert torch.equal(ds[3]['inputs'], _by_hand(ds, 3, sample_seed(5, 2, 3, 1)))
    # Another epoch: other augmentations for some samples (flip/rot90 with these probabilities).
    ds.set_augment_epoch(5, 3)
    assert any(not torch.equal(ds[i]['inputs'], outs[0][i]) for i in range(len(ds)))


def test_evaluation_and_unset_are_not_seeded(sicapv2_root):
    ds = _dataset(sicapv2_root, test_mode=True)
    ds.set_augment_epoch(5, 0)
    assert ds.augment_seed(0) is None
    train = _dataset(sicapv2_root)
    assert train.augment_seed(0) is None  # no epoch set: the pipeline uses the process's generators


def test_seeded_rng_seeds_the_cpu_streams_only_and_restores_them(monkeypatch):
    from mmmedfm.datasets.seeded_augment import seeded_rng
    reseeded = []  # reseeding every GPU per sample costs ~2.5 ms and would leak into the caller's CUDA stream
    monkeypatch.setattr(torch.cuda, 'manual_seed_all', lambda s: reseeded.append(s))
    torch.manual_seed(123)
    reseeded.clear()
    before = torch.get_rng_state()
    expected = torch.rand(3, generator=torch.Generator().manual_seed(7))
    with seeded_rng(7):
        got, py, npy = torch.rand(3), random.random(), np.random.random()
    assert torch.equal(got, expected) and reseeded == []
    assert py == random.Random(7).random() and npy == np.random.RandomState(7).random_sample()
    assert torch.equal(torch.get_rng_state(), before)


def test_deterministic_pipeline_is_not_seeded(sicapv2_root, monkeypatch):
    """Only pipelines that draw random numbers pay for seeding; the draw count still advances."""
    from mmmedfm.datasets import seeded_augment
    from mmmedfm.datasets.seeded_augment import DETERMINISTIC_TRANSFORMS, draws_random_numbers
    calls = []
    real = seeded_augment.seeded_rng
    monkeypatch.setattr(seeded_augment, 'seeded_rng', lambda seed: calls.append(seed) or real(seed))
    plain = DATASETS.build(dict(type='SICAPv2Dataset', data_root=sicapv2_root, ann_file='partition/Test/Train.xlsx',
                                pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
    plain.set_augment_epoch(5, 0)
    plain[2]
    plain[2]
    assert calls == [] and plain.augment_seed(2) == sample_seed(5, 0, 2, 1)
    ds = _dataset(sicapv2_root)
    ds.set_augment_epoch(5, 0)
    ds[2]
    assert calls == [sample_seed(5, 0, 2, 0)]
    assert not draws_random_numbers(plain.pipeline.transforms) and draws_random_numbers(ds.pipeline.transforms)
    assert {'PackInputs', 'LoadImageFromFile'} <= DETERMINISTIC_TRANSFORMS
    assert not any(name.startswith('Random') for name in DETERMINISTIC_TRANSFORMS)
