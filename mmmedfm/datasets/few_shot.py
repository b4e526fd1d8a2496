"""Seeded, nested few-shot sampling shared by every dataset."""
import random
from collections import Counter
from typing import List, Optional, Sequence


def sample_few_shot(data_list: List[dict], num_shots: int, seed: int,
                    class_names: Optional[Sequence[str]] = None) -> List[dict]:
    """Keep ``num_shots`` samples per class, drawn with ``seed``.

    One seeded permutation of the whole list is walked and the first ``num_shots`` samples of each class are
    kept (the tutorial's draw), so supports are **nested**: for a seed, the 2-shot set is contained in the
    4-shot set, and so on. The original order of the kept samples is preserved.

    Raises:
        ValueError: A class has fewer than ``num_shots`` samples (the message names it).
    """
    if num_shots <= 0:
        raise ValueError(f'num_shots must be positive, got {num_shots}')
    available = Counter(d['gt_label'] for d in data_list)
    for label in sorted(set(available) | set(range(len(class_names or [])))):
        if available.get(label, 0) < num_shots:
            name = class_names[label] if class_names else label
            raise ValueError(f'num_shots={num_shots} but class {name!r} (label {label}) has only '
                             f'{available.get(label, 0)} images in this split.')
    order = list(range(len(data_list)))
    random.Random(seed).shuffle(order)
    taken, keep = Counter(), set()
    for i in order:
        label = data_list[i]['gt_label']
        if taken[label] < num_shots:
            taken[label] += 1
            keep.add(i)
    return [d for i, d in enumerate(data_list) if i in keep]
