import math
from typing import Iterator, List, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmmedfm.registry import DATA_SAMPLERS


def class_balanced_indices(labels: List[int], total: int, generator: torch.Generator) -> List[int]:
    """``total`` dataset indices in which every class occurs ``total // C`` or ``total // C + 1`` times, shuffled.

    Each class walks fresh permutations of its own images (a small class repeats only after all its images
    were used); which classes get the ``total % C`` extra draws is also drawn with ``generator``.
    """
    by_class = {}
    for i, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(i)
    classes = sorted(by_class)
    counts = [total // len(classes)] * len(classes)
    for c in torch.randperm(len(classes), generator=generator)[:total % len(classes)].tolist():
        counts[c] += 1
    pool = []
    for label, n in zip(classes, counts):
        idx = torch.tensor(by_class[label])
        reps = math.ceil(n / len(idx))
        pool.append(torch.cat([idx[torch.randperm(len(idx), generator=generator)] for _ in range(reps)])[:n])
    pool = torch.cat(pool)
    return pool[torch.randperm(len(pool), generator=generator)].tolist()


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(Sampler):
    """Class-balanced sampling with replacement for unbalanced few-shot supports (e.g. CITE's k WSIs/class).

    The whole epoch's index list is a pure function of ``(seed, epoch, labels)``: nothing is kept in the
    dataset's ``__getitem__`` (which breaks with dataloader workers), so it is identical for any
    ``num_workers``. Under DDP each rank takes the strided slice ``indices[rank::world_size]`` of the same
    list, so ranks partition it. ``set_epoch`` (called by MMEngine's ``DistSamplerSeedHook``) reshuffles.

    Args:
        dataset (Sized): A dataset with ``get_data_info(i)['gt_label']`` (every MMEngine ``BaseDataset``).
        seed (int, optional): Shared seed; None draws one and syncs it across ranks. The Runner passes the
            run's seed.
        num_samples (int, optional): Indices per epoch over all ranks. Defaults to ``len(dataset)``.
        rank (int, optional), world_size (int, optional): Override ``mmengine.dist.get_dist_info()``.
    """

    def __init__(self, dataset: Sized, seed: Optional[int] = None, num_samples: Optional[int] = None,
                 rank: Optional[int] = None, world_size: Optional[int] = None):
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'rank {self.rank} outside world_size {self.world_size}')
        self.dataset = dataset
        self.labels = [int(dataset.get_data_info(i)['gt_label']) for i in range(len(dataset))]
        if not self.labels:
            raise ValueError('ClassBalancedSampler: the dataset is empty.')
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        total = len(dataset) if num_samples is None else num_samples
        self.num_samples = math.ceil(total / self.world_size)  # per rank; the total is rounded up to fill ranks
        self.total_size = self.num_samples * self.world_size

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        indices = class_balanced_indices(self.labels, self.total_size, g)
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (same list on every rank and worker count)."""
        self.epoch = epoch
