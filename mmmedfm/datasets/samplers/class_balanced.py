import math
from typing import Iterator, List, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmmedfm.registry import DATA_SAMPLERS


def class_balanced_indices(labels: List[int], total: int, generator: torch.Generator,
                           round_robin: bool = False) -> List[int]:
    """``total`` dataset indices in which every class occurs ``total // C`` or ``total // C + 1`` times.

    Each class walks fresh permutations of its own images (a small class repeats only after all its images
    were used). ``round_robin=False``: the list is shuffled and which classes get the ``total % C`` extra draws
    is drawn with ``generator``. ``round_robin=True``: classes alternate 0, 1, ..., C-1, 0, ... (CITE's
    ``patch_balance``), so every run of C consecutive indices holds each class once.
    """
    by_class = {}
    for i, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(i)
    classes = sorted(by_class)
    counts = [total // len(classes)] * len(classes)
    extra = range(total % len(classes)) if round_robin else torch.randperm(
        len(classes), generator=generator)[:total % len(classes)].tolist()
    for c in extra:
        counts[c] += 1
    pool = []
    for label, n in zip(classes, counts):
        idx = torch.tensor(by_class[label])
        reps = math.ceil(n / len(idx))
        pool.append(torch.cat([idx[torch.randperm(len(idx), generator=generator)] for _ in range(reps)])[:n])
    if round_robin:
        return [pool[j % len(classes)][j // len(classes)].item() for j in range(total)]
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
        round_robin (bool): Alternate the classes (CITE's ``patch_balance``: every C consecutive samples hold
            each class once) instead of shuffling the balanced list. Defaults to False.
    """

    def __init__(self, dataset: Sized, seed: Optional[int] = None, num_samples: Optional[int] = None,
                 rank: Optional[int] = None, world_size: Optional[int] = None, round_robin: bool = False):
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
        self.round_robin = round_robin
        self.epoch = 0
        total = len(dataset) if num_samples is None else num_samples
        self.num_samples = math.ceil(total / self.world_size)  # per rank; the total is rounded up to fill ranks
        self.total_size = self.num_samples * self.world_size

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        indices = class_balanced_indices(self.labels, self.total_size, g, self.round_robin)
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (same list on every rank and worker count)."""
        self.epoch = epoch
