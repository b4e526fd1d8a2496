"""Seeded, nested few-shot sampling (per class, per WSI) shared by every dataset.

Pure functions over MMEngine data lists (``[{'img_path', 'gt_label', 'wsi_id', ...}, ...]``) plus
:class:`FewShotMixin`, which gives any ``BaseDataset`` subclass the config keys ``num_shots``, ``shot_seed``,
``num_wsis``, ``wsi_selection`` and ``wsi_seed``.
"""
import numbers
import random
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

from .decoded_dataset import DecodedCacheMixin
from .seeded_augment import SeededAugmentMixin

WSI_SELECTIONS = ('most_patches', 'random')


def _class_name(label: int, class_names: Optional[Sequence[str]]) -> str:
    return repr(class_names[label]) if class_names and 0 <= label < len(class_names) else repr(label)


def _check_available(counts: Counter, k: int, what: str, class_names: Optional[Sequence[str]],
                     require_all: bool = True) -> None:
    """Raise if a class has fewer than ``k`` items (with ``require_all``, also a class of ``class_names`` absent
    from ``counts``)."""
    for label in sorted(set(counts) | (set(range(len(class_names or []))) if require_all else set())):
        if counts.get(label, 0) < k:
            raise ValueError(f'{what}={k} but class {_class_name(label, class_names)} (label {label}) has only '
                             f'{counts.get(label, 0)} in this split.')


def sample_few_shot(data_list: List[dict], num_shots: int, seed: int,
                    class_names: Optional[Sequence[str]] = None, require_all: bool = True) -> List[dict]:
    """Keep ``num_shots`` samples per class, drawn with ``seed``.

    One seeded permutation of the whole list is walked and the first ``num_shots`` samples of each class are
    kept (the tutorial's draw), so supports are **nested**: for a seed, the 2-shot set is contained in the
    4-shot set, and so on. The original order of the kept samples is preserved.

    Raises:
        ValueError: A class has fewer than ``num_shots`` samples (the message names it).
    """
    if num_shots <= 0:
        raise ValueError(f'num_shots must be positive, got {num_shots}')
    _check_available(Counter(d['gt_label'] for d in data_list), num_shots, 'num_shots', class_names, require_all)
    order = list(range(len(data_list)))
    random.Random(seed).shuffle(order)
    taken, keep = Counter(), set()
    for i in order:
        label = data_list[i]['gt_label']
        if taken[label] < num_shots:
            taken[label] += 1
            keep.add(i)
    return [d for i, d in enumerate(data_list) if i in keep]


def wsi_table(data_list: List[dict]) -> Dict[str, dict]:
    """``{wsi_id: {'label': int, 'num_patches': int}}``; a WSI carrying two labels is an error."""
    table: Dict[str, dict] = {}
    for d in data_list:
        wsi = d.get('wsi_id')
        if wsi is None:
            raise ValueError(f'{d.get("img_path")}: no wsi_id; per-WSI sampling needs a slide id for every image '
                             '(PatchCSVDataset: a slide column; folder dataset: `slide_id_regex`).')
        row = table.setdefault(wsi, dict(label=d['gt_label'], num_patches=0))
        if row['label'] != d['gt_label']:
            raise ValueError(f'WSI {wsi!r} has patches of labels {row["label"]} and {d["gt_label"]}; per-WSI '
                             'sampling needs one label per slide.')
        row['num_patches'] += 1
    return table


def select_wsis(data_list: List[dict], num_wsis: int, selection: str = 'most_patches', seed: int = 0,
                class_names: Optional[Sequence[str]] = None, require_all: bool = True) -> List[dict]:
    """Keep every patch of ``num_wsis`` slides per class (CITE's k-shot = k WSIs per class).

    Args:
        data_list: Data infos with ``gt_label`` and ``wsi_id``.
        num_wsis: Slides kept per class.
        selection: ``'most_patches'`` (CITE: the slides with the most patches; ties by WSI id, deterministic,
            where CITE's stable sort keeps the file-system listing order)
            or ``'random'`` (one seeded permutation of the sorted WSI ids per class).
        seed: Seed of the ``'random'`` selection.
        class_names: Used to name a class with too few slides in the error.
        require_all: A class of ``class_names`` without any slide is an error too. Defaults to True.

    Both selections rank the slides of a class once and take the first ``num_wsis``, so supports are nested.
    """
    if num_wsis <= 0:
        raise ValueError(f'num_wsis must be positive, got {num_wsis}')
    if selection not in WSI_SELECTIONS:
        raise ValueError(f'wsi_selection must be one of {WSI_SELECTIONS}, got {selection!r}')
    table = wsi_table(data_list)
    by_class: Dict[int, List[str]] = defaultdict(list)
    for wsi in sorted(table):
        by_class[table[wsi]['label']].append(wsi)
    _check_available(Counter({c: len(w) for c, w in by_class.items()}), num_wsis, 'num_wsis', class_names,
                     require_all)
    keep = set()
    for label in sorted(by_class):
        wsis = by_class[label]
        if selection == 'most_patches':
            wsis = sorted(wsis, key=lambda w: (-table[w]['num_patches'], w))
        else:
            random.Random(f'{seed}-{label}').shuffle(wsis)
        keep.update(wsis[:num_wsis])
    return [d for d in data_list if d['wsi_id'] in keep]


SPLIT_MODES = ('cite', 'per_class')


def split_wsis_per_class(wsi_labels: Dict[str, int], eval_ratio: float = 0.8, seed: int = 0,
                         mode: str = 'cite') -> Dict[str, str]:
    """Split slides per class into ``'test'`` (held out) and ``'train'`` (few-shot pool). No slide is in both.

    Args:
        wsi_labels: ``{wsi_id: label}`` in the order of the annotation file (``mode='cite'`` depends on it).
        eval_ratio: Share of each class's slides held out. Defaults to 0.8.
        seed: Seed. Defaults to 0 (CITE's).
        mode: ``'cite'`` (default) reproduces CITE's ``tools/ann.py``: per-class id lists in file order, one
            RNG seeded once, then for each class in label order ``sample(ids, int(eval_ratio * n))`` held out.
            ``'per_class'``: scikit-learn's stratified split (``train_test_split(stratify=labels,
            random_state=seed)``) of the sorted ids: per-class counts proportional to ``eval_ratio``, independent
            of file order; every class needs at least 2 slides.

    Returns:
        ``{wsi_id: 'train' | 'test'}``.
    """
    if not 0. <= eval_ratio <= 1.:
        raise ValueError(f'eval_ratio must be in [0, 1], got {eval_ratio}')
    if mode not in SPLIT_MODES:
        raise ValueError(f'split mode must be one of {SPLIT_MODES}, got {mode!r}')
    split = dict.fromkeys(wsi_labels, 'train')
    if mode == 'per_class':
        split.update(dict.fromkeys(_stratified_held_out(wsi_labels, eval_ratio, seed), 'test'))
        return split
    # CITE's tools/ann.py, step for step (one RNG, classes in label order, floor): written out because the
    # official slides are reproduced bit for bit only by this exact sequence of draws.
    by_class: Dict[int, List[str]] = defaultdict(list)
    for wsi in wsi_labels:
        by_class[wsi_labels[wsi]].append(wsi)
    rng = random.Random(seed)
    for label in sorted(by_class):
        split.update(dict.fromkeys(rng.sample(by_class[label], int(len(by_class[label]) * eval_ratio)), 'test'))
    return split


def _stratified_held_out(wsi_labels: Dict[str, int], eval_ratio: float, seed: int) -> List[str]:
    """The held-out slides of sklearn's stratified split of the sorted ids (all or none at ratio 1 or 0)."""
    from sklearn.model_selection import train_test_split
    ids = sorted(wsi_labels)
    if eval_ratio in (0., 1.) or not ids:
        return ids if eval_ratio == 1. else []
    try:
        return train_test_split(ids, test_size=eval_ratio, stratify=[wsi_labels[w] for w in ids],
                                random_state=seed)[1]
    except ValueError as e:  # e.g. a class with a single slide
        counts = dict(sorted(Counter(wsi_labels.values()).items()))
        raise ValueError(f"split mode 'per_class' cannot hold out {eval_ratio:.0%} of each class's slides "
                         f'(slides per class: {counts}): {e}') from None


def check_count(value, key: str, owner: str, allow_none: bool = True) -> None:
    """Refuse a few-shot count that is not a positive integer (or None): ``0`` would silently mean "all",
    ``2.5`` would round and ``'one'`` would be taken as true."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f'{owner}: `{key}` must be a positive integer{" or None (all)" if allow_none else ""}, '
                         f'got {value!r}.')


def check_seed(value, key: str, owner: str) -> None:
    """Refuse a seed that is not an integer (a string or float seed would be hashed/accepted silently)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'{owner}: `{key}` must be an integer, got {value!r}.')


class FewShotMixin(SeededAugmentMixin, DecodedCacheMixin):
    """Few-shot config keys for any ``BaseDataset`` (put it first in the bases: ``(FewShotMixin, BaseDataset)``).

    The draw runs in ``filter_data`` (MMEngine's hook after ``load_data_list``), so the subclass only reads
    its annotations. Slide selection runs first, then the per-class image draw within the kept slides.

    Args:
        num_shots (int, optional): Images kept per class (seeded, nested). Defaults to None (all).
        shot_seed (int): Seed of the image draw. Defaults to 1 (the tutorial's).
        num_wsis (int, optional): Slides kept per class, with all their patches. Defaults to None (all).
        wsi_selection (str): ``'most_patches'`` (CITE, deterministic) or ``'random'``.
        wsi_seed (int): Seed of ``wsi_selection='random'``. Defaults to 0.
        allow_missing_classes (bool): Accept a training set in which a class of ``metainfo['classes']`` has
            no image (the model still has a logit for it). Defaults to False: refused, naming the class.

    A dataset with no image after loading is refused (names the annotation file). Sampling is refused on a
    ``test_mode=True`` dataset: evaluation always uses the full split. The decoded-image cache keys
    (``cache_decoded``...) come from :class:`DecodedCacheMixin`; it is on by default for few-shot supports.
    Training samples are augmented from per-sample seeds (:class:`SeededAugmentMixin`).
    """

    def __init__(self, *args, num_shots: Optional[int] = None, shot_seed: int = 1,
                 num_wsis: Optional[int] = None, wsi_selection: str = 'most_patches', wsi_seed: int = 0,
                 allow_missing_classes: bool = False, **kwargs):
        owner = type(self).__name__
        if wsi_selection not in WSI_SELECTIONS:
            raise ValueError(f'{owner}: `wsi_selection` must be one of {WSI_SELECTIONS}, got {wsi_selection!r}')
        check_count(num_shots, 'num_shots', owner)
        check_count(num_wsis, 'num_wsis', owner)
        check_seed(shot_seed, 'shot_seed', owner)
        check_seed(wsi_seed, 'wsi_seed', owner)
        if (num_shots is not None or num_wsis is not None) and kwargs.get('test_mode', False):
            raise ValueError(f'{type(self).__name__}: num_shots={num_shots}/num_wsis={num_wsis} with '
                             'test_mode=True; few-shot sampling never touches an evaluation split. Set them on '
                             'the train dataset only.')
        self.num_shots, self.shot_seed = num_shots, shot_seed
        self.num_wsis, self.wsi_selection, self.wsi_seed = num_wsis, wsi_selection, wsi_seed
        self.allow_missing_classes = allow_missing_classes
        super().__init__(*args, **kwargs)

    def _check_classes(self, data_list: List[dict], classes: Optional[Sequence[str]]) -> None:
        source = getattr(self, 'ann_file', '') or self.data_prefix.get('img_path', '')
        if not data_list:
            raise ValueError(f'{type(self).__name__}: no usable image in {source}.')
        if self.test_mode or self.allow_missing_classes or not classes:
            return
        present = {d['gt_label'] for d in data_list}
        missing = [c for i, c in enumerate(classes) if i not in present]
        if missing:
            raise ValueError(f'{type(self).__name__}: class(es) {missing} have no training image in {source}: '
                             f'a {len(classes)}-class model would learn {len(classes) - len(missing)} classes. '
                             'Fix the annotations, or set allow_missing_classes=True on the dataset to train '
                             'anyway.')

    def filter_data(self) -> List[dict]:
        data_list = super().filter_data()
        classes = self.metainfo.get('classes')
        n_before = len(data_list)
        self._check_classes(data_list, classes)
        if self.num_wsis is not None:
            data_list = select_wsis(data_list, self.num_wsis, self.wsi_selection, self.wsi_seed, classes,
                                    not self.allow_missing_classes)
        if self.num_shots is not None:
            data_list = sample_few_shot(data_list, self.num_shots, self.shot_seed, classes,
                                        not self.allow_missing_classes)
        if self.num_wsis is not None or self.num_shots is not None:
            print_log(f'{type(self).__name__}: few-shot support of {len(data_list)} of {n_before} images '
                      f'(num_wsis={self.num_wsis}, wsi_selection={self.wsi_selection!r}, '
                      f'wsi_seed={self.wsi_seed}, num_shots={self.num_shots}, shot_seed={self.shot_seed}).',
                      logger='current')
        return data_list
