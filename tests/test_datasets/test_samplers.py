"""ClassBalancedSampler: balanced, seeded per epoch, identical for any worker count, partitioned across ranks."""
from collections import Counter

import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from mmmedfm.datasets import ClassBalancedSampler
from mmmedfm.registry import DATA_SAMPLERS

LABELS = [0] * 20 + [1] * 5 + [2] * 3


class _Labelled:
    """Minimal dataset: ``get_data_info`` for the sampler, ``__getitem__`` returns the index it was given."""

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, i):
        return dict(gt_label=self.labels[i])

    def __getitem__(self, i):
        return i


def _loader_order(sampler, num_workers):
    loader = DataLoader(_Labelled(LABELS), batch_size=4, sampler=sampler, num_workers=num_workers,
                        collate_fn=pseudo_collate)
    return [i for batch in loader for i in batch]


def test_balanced_and_seeded_per_epoch():
    s = ClassBalancedSampler(_Labelled(LABELS), seed=3, rank=0, world_size=1)
    epoch0 = list(s)
    assert len(epoch0) == len(s) == 28
    counts = Counter(LABELS[i] for i in epoch0)
    assert sorted(counts.values()) == [9, 9, 10]  # 28 = 3 * 9 + 1
    assert Counter(epoch0[i] for i in range(28) if LABELS[epoch0[i]] == 2).most_common()[-1][1] == 3  # 3 imgs x3
    assert list(s) == epoch0
    s.set_epoch(1)
    epoch1 = list(s)
    assert epoch1 != epoch0
    assert list(ClassBalancedSampler(_Labelled(LABELS), seed=3, rank=0, world_size=1)) == epoch0
    assert list(ClassBalancedSampler(_Labelled(LABELS), seed=4, rank=0, world_size=1)) != epoch0


def test_same_order_with_0_and_2_workers():
    orders = []
    for workers in (0, 2):
        s = ClassBalancedSampler(_Labelled(LABELS), seed=0, rank=0, world_size=1)
        s.set_epoch(2)
        orders.append(_loader_order(s, workers))
    assert orders[0] == orders[1] == list(s)


def test_two_ranks_partition_the_epoch():
    labels = LABELS + [1]  # 29 images: the epoch is rounded up to 30 so both ranks get 15
    whole = ClassBalancedSampler(_Labelled(labels), seed=7, num_samples=30, rank=0, world_size=1)
    ranks = [ClassBalancedSampler(_Labelled(labels), seed=7, rank=r, world_size=2) for r in (0, 1)]
    for s in [whole, *ranks]:
        s.set_epoch(5)
    full, r0, r1 = list(whole), list(ranks[0]), list(ranks[1])
    assert len(r0) == len(r1) == len(ranks[0]) == 15
    interleaved = [i for pair in zip(r0, r1) for i in pair]
    assert interleaved == full  # rank r takes positions r, r + 2, ... of the same epoch list


def test_built_from_config_with_runner_seed():
    s = DATA_SAMPLERS.build(dict(type='ClassBalancedSampler'), default_args=dict(dataset=_Labelled(LABELS), seed=1))
    assert isinstance(s, ClassBalancedSampler) and s.seed == 1 and len(s) == 28
    with pytest.raises(ValueError, match='rank 2 outside world_size 2'):
        ClassBalancedSampler(_Labelled(LABELS), seed=0, rank=2, world_size=2)


def test_round_robin_walks_classes_in_turn_like_cite_patch_balance():
    """CITE's ``patch_balance``: class 0, 1, 2, 0, ... in turn; each class walks a shuffled list of its images
    and reshuffles when it is used up."""
    order = list(ClassBalancedSampler(_Labelled(LABELS), seed=5, rank=0, world_size=1, round_robin=True))
    assert [LABELS[i] for i in order] == [j % 3 for j in range(28)]
    for label in range(3):
        own = sorted(i for i, lab in enumerate(LABELS) if lab == label)
        walk = [i for i in order if LABELS[i] == label]
        for start in range(0, len(walk) - len(own) + 1, len(own)):  # every full pass is a permutation
            assert sorted(walk[start:start + len(own)]) == own
        assert len(set(walk[:len(own)])) == min(len(walk), len(own))
