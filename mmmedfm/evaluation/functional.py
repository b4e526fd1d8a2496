"""Clinical classification metrics as small pure functions on numpy arrays.

All rates are fractions in ``[0, 1]`` here; :func:`as_percent` turns the count-based rates into percent, the one
scale of the logs (as mmpretrain's ``Accuracy``), the sweep CSVs, the reports and the plots. Formulas are scikit-learn's wherever it has them; only the multiclass
expected calibration error and the handling of classes absent from a batch are written here (see below).

Shapes: ``y_true``/``y_pred``: ``(N,)`` int class indices; ``probs``: ``(N, C)`` rows summing to 1.
"""
import warnings
from typing import Dict, Optional, Tuple

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, brier_score_loss, cohen_kappa_score,
                             confusion_matrix, f1_score, log_loss, mean_absolute_error, precision_score,
                             recall_score, roc_auc_score)

__all__ = ['PERCENT_KEYS', 'is_rate', 'as_percent', 'rows_in_percent', 'classification_metrics', 'confusion', 'per_class_precision', 'per_class_recall', 'ece',
           'reliability_bins', 'auroc_macro', 'aggregate_by_group', 'average_probabilities']


# Count-based rates (reported in %); scores (kappa, AUROC, ECE, NLL, Brier) keep their natural scale.
PERCENT_KEYS = ('accuracy', 'balanced_accuracy', 'macro_f1')


def is_rate(key: str) -> bool:
    """Whether metric ``key`` (also ``{prefix}/...`` and ``wsi_...``) is a count-based rate of
    :data:`PERCENT_KEYS`, reported in percent."""
    name = key.split('/')[-1]
    return (name[len('wsi_'):] if name.startswith('wsi_') else name) in PERCENT_KEYS


def as_percent(metrics: Dict[str, float], fractions_only: bool = False) -> Dict[str, float]:
    """``metrics`` with the rates of :data:`PERCENT_KEYS` (:func:`is_rate`) times 100; ``fractions_only``: only
    numbers in ``[-1, 1]`` (a rate above 1 is already in percent)."""
    def scale(value):
        return not fractions_only or (_is_number(value) and abs(value) <= 1.)
    return {k: 100. * v if is_rate(k) and scale(v) else v for k, v in metrics.items()}


def rows_in_percent(rows: list) -> list:
    """Result rows (dicts) with their rates in percent, marked ``rates='percent'``; rows without the mark
    (written by older versions) are converted, marked rows are kept as they are. Older versions wrote most rates
    as fractions but some (training cells' macro F1) already in percent, so an unmarked rate above 1 is kept."""
    return [r if r.get('rates') == 'percent' else dict(as_percent(r, fractions_only=True), rates='percent')
            for r in rows]


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)


def _check(y_true: np.ndarray, probs: np.ndarray, num_classes: Optional[int]) -> Tuple[np.ndarray, np.ndarray, int]:
    y_true = np.asarray(y_true).astype(int).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != y_true.shape[0]:
        raise ValueError(f'probs must be (N, C) with N = len(y_true) = {y_true.shape[0]}, got {probs.shape}.')
    num_classes = probs.shape[1] if num_classes is None else int(num_classes)
    if probs.shape[1] != num_classes:
        raise ValueError(f'probs has {probs.shape[1]} columns but num_classes={num_classes}.')
    sums = probs.sum(1)
    if not np.allclose(sums, 1., atol=1e-3):
        raise ValueError(f'probs rows must sum to 1 (got sums in [{sums.min():.4f}, {sums.max():.4f}]); pass '
                         'softmax probabilities, not logits.')
    # float32 softmax outputs sum to 1 only up to rounding, which sklearn's log_loss/brier warn about.
    probs = probs / sums[:, None]
    if y_true.size and (y_true.min() < 0 or y_true.max() >= num_classes):
        raise ValueError(f'labels must lie in [0, {num_classes}), got [{y_true.min()}, {y_true.max()}].')
    return y_true, probs, num_classes


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` int confusion matrix, rows = true class, columns = predicted class (sklearn's)."""
    return confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))


def per_class_precision(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C,)`` precision per class; 0 for a class that is never predicted (sklearn ``zero_division=0``)."""
    return precision_score(y_true, y_pred, labels=np.arange(num_classes), average=None, zero_division=0)


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C,)`` recall (sensitivity) per class; 0 for a class absent from ``y_true``."""
    return recall_score(y_true, y_pred, labels=np.arange(num_classes), average=None, zero_division=0)


def auroc_macro(y_true: np.ndarray, probs: np.ndarray) -> float:
    """One-vs-rest AUROC averaged over the classes that have both positives and negatives in ``y_true``.

    sklearn's ``roc_auc_score(multi_class='ovr')`` returns NaN as soon as one class is absent from ``y_true``
    (common for few-shot or per-slide subsets); here such classes are skipped, and the result is NaN only
    when no class is scorable (a single-class batch). With every class present it equals sklearn's ovr macro.
    """
    y_true, probs, num_classes = _check(y_true, probs, None)
    onehot = np.eye(num_classes, dtype=int)[y_true]
    scorable = [c for c in range(num_classes) if 0 < onehot[:, c].sum() < len(y_true)]
    if not scorable:
        return float('nan')
    return float(roc_auc_score(onehot[:, scorable], probs[:, scorable], average='macro'))


def reliability_bins(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 15
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-label reliability table on ``n_bins`` equal-width confidence bins ``(lo, hi]``.

    Returns ``(count, mean_confidence, accuracy)``, each ``(n_bins,)`` (confidence/accuracy NaN in empty bins).
    """
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true).astype(int).reshape(-1)
    conf, pred = probs.max(1), probs.argmax(1)
    correct = (pred == y_true).astype(np.float64)
    # Bin i holds conf in (i/n, (i+1)/n]; conf = 0 cannot occur for a probability row's maximum.
    idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid='ignore', divide='ignore'):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return count.astype(int), mean_conf, acc


def ece(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error (Guo et al. 2017): ``sum_b |B_b|/N * |acc(B_b) - conf(B_b)|``.

    Written by hand: scikit-learn has no multiclass ECE (``calibration_curve`` is binary only).
    """
    count, conf, acc = reliability_bins(probs, y, n_bins)
    if count.sum() == 0:
        return float('nan')
    filled = count > 0
    return float(np.sum(count[filled] / count.sum() * np.abs(acc[filled] - conf[filled])))


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, num_classes: Optional[int] = None,
                           ordinal: bool = False) -> Dict[str, float]:
    """All clinical metrics of one set of predictions (fractions, not percent).

    Args:
        y_true (np.ndarray): ``(N,)`` true class indices.
        probs (np.ndarray): ``(N, C)`` predicted probabilities; the prediction is the argmax.
        num_classes (int, optional): ``C``; defaults to ``probs.shape[1]``.
        ordinal (bool): Classes are ordered (e.g. NC < G3 < G4 < G5): also return ``kappa_linear`` and
            ``ordinal_mae`` (mean absolute distance in class steps).

    Returns:
        dict: ``accuracy, balanced_accuracy, macro_f1, kappa_quadratic, auroc_macro, ece, nll, brier``
        (+ the ordinal keys). ``kappa_quadratic`` is always returned (it is only meaningful for ordered
        classes); it is NaN when undefined (one class in both truth and prediction), as is ``auroc_macro``
        for a single-class batch. ``brier`` is the multiclass Brier score (sum over classes of the squared
        error to the one-hot label, mean over samples, range [0, 2]); ``nll`` the mean negative log-likelihood.
        ``balanced_accuracy`` averages recall over the classes present in ``y_true`` (sklearn).
    """
    y_true, probs, num_classes = _check(y_true, probs, num_classes)
    labels = np.arange(num_classes)
    y_pred = probs.argmax(1)
    with warnings.catch_warnings():
        # Undefined cases (absent classes, single-class batches) are documented above and return NaN / 0.
        warnings.simplefilter('ignore', UndefinedMetricWarning)
        warnings.filterwarnings('ignore', message='y_pred contains classes not in y_true')
        warnings.filterwarnings('ignore', message='A single label was found')
        out = dict(
            accuracy=float(accuracy_score(y_true, y_pred)),
            balanced_accuracy=float(balanced_accuracy_score(y_true, y_pred)),
            # Classes absent from both truth and prediction have no F1 and are left out of the mean.
            macro_f1=float(f1_score(y_true, y_pred, labels=labels, average='macro', zero_division=np.nan)),
            kappa_quadratic=float(cohen_kappa_score(y_true, y_pred, labels=labels, weights='quadratic',
                                                    replace_undefined_by=np.nan)),
            auroc_macro=auroc_macro(y_true, probs),
            ece=ece(probs, y_true),
            nll=float(log_loss(y_true, probs, labels=labels)),
            brier=float(brier_score_loss(y_true, probs, labels=labels, scale_by_half=False)),
        )
        if ordinal:
            out['kappa_linear'] = float(cohen_kappa_score(y_true, y_pred, labels=labels, weights='linear',
                                                          replace_undefined_by=np.nan))
            out['ordinal_mae'] = float(mean_absolute_error(y_true, y_pred))
    return out


def aggregate_by_group(probs: np.ndarray, y: np.ndarray, groups, how: str = 'mean', label_how: str = 'mode'
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aggregate patch predictions per group (slide): ``(probs_g, y_g, group_ids)``, groups sorted.

    Args:
        probs (np.ndarray): ``(N, C)`` patch probabilities.
        y (np.ndarray): ``(N,)`` patch labels.
        groups (array-like): ``(N,)`` group (slide) id of each patch.
        how (str): ``'mean'``: mean probability over the group's patches (CITE's WSI accuracy);
            ``'vote'``: fraction of the group's patches predicted as each class (argmax = majority vote;
            ties go to the lower class index).
        label_how (str): Group label from its patch labels: ``'mode'`` (most frequent, ties to the lower
            index) or ``'max'`` (highest class index present: worst grade for ordered classes).

    Returns:
        tuple: ``probs_g (G, C)``, ``y_g (G,)``, ``group_ids (G,)`` (sorted unique ids, like a pandas groupby).
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y).astype(int).reshape(-1)
    groups = np.asarray(groups)
    if not (len(probs) == len(y) == len(groups)):
        raise ValueError(f'probs, y and groups must have the same length, got {len(probs)}, {len(y)}, '
                         f'{len(groups)}.')
    if how not in ('mean', 'vote'):
        raise ValueError(f"how must be 'mean' or 'vote', got {how!r}.")
    if label_how not in ('mode', 'max'):
        raise ValueError(f"label_how must be 'mode' or 'max', got {label_how!r}.")
    num_classes = probs.shape[1]
    group_ids, inv = np.unique(groups, return_inverse=True)
    values = probs if how == 'mean' else np.eye(num_classes)[probs.argmax(1)]
    sums = np.zeros((len(group_ids), num_classes))
    np.add.at(sums, inv, values)
    probs_g = sums / np.bincount(inv)[:, None]
    label_counts = np.zeros((len(group_ids), num_classes), dtype=int)
    np.add.at(label_counts, (inv, y), 1)
    if label_how == 'mode':
        y_g = label_counts.argmax(1)
    else:
        y_g = num_classes - 1 - (label_counts[:, ::-1] > 0).argmax(1)
    return probs_g, y_g, group_ids


def average_probabilities(probs_list) -> Tuple[np.ndarray, np.ndarray]:
    """Ensemble (seeds, checkpoints or TTA views) by averaging probabilities.

    Args:
        probs_list (sequence of np.ndarray): ``M`` arrays ``(N, C)``, rows in the same sample order.

    Returns:
        tuple: ``mean (N, C)`` and ``spread (N,)``: the standard deviation across members of the probability
        of the ensemble's predicted class, a simple per-sample disagreement (uncertainty) score.
    """
    stack = np.stack([np.asarray(p, dtype=np.float64) for p in probs_list])
    if stack.ndim != 3:
        raise ValueError(f'Expected M arrays of shape (N, C), got stacked shape {stack.shape}.')
    mean = stack.mean(0)
    spread = stack[:, np.arange(stack.shape[1]), mean.argmax(1)].std(0)
    return mean, spread
