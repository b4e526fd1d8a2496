"""Clinical metrics, ECE, WSI aggregation and ensembling against hand formulas and pandas (our metrics wrap
scikit-learn, so sklearn is not an independent reference for them)."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mmmedfm.evaluation import (aggregate_by_group, average_probabilities, classification_metrics, confusion,
                                ece, per_class_precision, per_class_recall)

C = 4


def _random(n=300, seed=0, classes=C):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = rng.normal(0, 1, (n, classes))
    logits[np.arange(n), y] += 1.
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, probs


def _ece_loop(probs, y, n_bins=15):
    conf, correct = probs.max(1), probs.argmax(1) == y
    total = 0.
    for lo, hi in zip(np.linspace(0, 1, n_bins + 1)[:-1], np.linspace(0, 1, n_bins + 1)[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return total


def _hand_confusion(y, pred, classes=C):
    cm = np.zeros((classes, classes), int)
    for t, p in zip(y, pred):
        cm[t, p] += 1
    return cm


def _hand_auroc(y, probs):
    """Mann-Whitney: P(score of a positive > score of a negative), ties count 1/2; mean over scorable classes."""
    aucs = []
    for c in range(probs.shape[1]):
        pos, neg = probs[y == c, c], probs[y != c, c]
        if len(pos) and len(neg):
            aucs.append(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))
    return np.mean(aucs) if aucs else np.nan


def _hand_kappa(cm, power):
    idx = np.arange(len(cm))
    w = np.abs(idx[:, None] - idx[None, :]) ** power
    expected = np.outer(cm.sum(1), cm.sum(0)) / cm.sum()
    den = (w * expected).sum()
    return 1 - (w * cm).sum() / den if den else np.nan


def _check_against_hand(y, probs):
    """Every metric against a formula written here (our implementation wraps sklearn: not a reference)."""
    classes, n = probs.shape[1], len(y)
    pred = probs.argmax(1)
    cm = _hand_confusion(y, pred, classes)
    tp, rows, cols = np.diag(cm), cm.sum(1), cm.sum(0)
    recall = np.array([tp[c] / rows[c] if rows[c] else 0. for c in range(classes)])
    precision = np.array([tp[c] / cols[c] if cols[c] else 0. for c in range(classes)])
    f1 = [2 * tp[c] / (rows[c] + cols[c]) for c in range(classes) if rows[c] + cols[c]]
    out = classification_metrics(y, probs, ordinal=True)
    assert out['accuracy'] == pytest.approx(tp.sum() / n)
    assert out['balanced_accuracy'] == pytest.approx(recall[rows > 0].mean())
    assert out['macro_f1'] == pytest.approx(np.mean(f1))
    assert out['kappa_quadratic'] == pytest.approx(_hand_kappa(cm, 2), nan_ok=True)
    assert out['kappa_linear'] == pytest.approx(_hand_kappa(cm, 1), nan_ok=True)
    assert out['ordinal_mae'] == pytest.approx(np.abs(y - pred).mean())
    assert out['nll'] == pytest.approx(-np.mean(np.log(probs[np.arange(n), y])))
    assert out['brier'] == pytest.approx(np.mean(np.sum((probs - np.eye(classes)[y]) ** 2, 1)))
    assert out['ece'] == pytest.approx(_ece_loop(probs, y))
    assert out['auroc_macro'] == pytest.approx(_hand_auroc(y, probs), nan_ok=True)
    np.testing.assert_allclose(per_class_precision(y, pred, C), precision)
    np.testing.assert_allclose(per_class_recall(y, pred, C), recall)
    np.testing.assert_array_equal(confusion(y, pred, C), cm)
    return out


def test_metrics_match_sklearn_on_random_predictions():
    y, probs = _random()
    out = _check_against_hand(y, probs)
    assert out['auroc_macro'] == pytest.approx(roc_auc_score(y, probs, multi_class='ovr'))  # all classes present
    assert 0.3 < out['accuracy'] < 0.9  # not a degenerate draw


def test_class_never_predicted():
    y, probs = _random(seed=1)
    probs[:, 3] = 1e-4  # class 3 is in y but never the argmax
    probs /= probs.sum(1, keepdims=True)
    assert 3 in y and 3 not in probs.argmax(1)
    _check_against_hand(y, probs)
    assert per_class_precision(y, probs.argmax(1), C)[3] == 0.


def test_class_absent_from_truth_auroc_over_present_classes():
    y, probs = _random(seed=2)
    keep = y != 1
    y, probs = y[keep], probs[keep]
    # sklearn's ovr gives NaN here; we average the binary AUROCs of the classes that are present (hand check).
    assert 1 not in y and not np.isnan(_check_against_hand(y, probs)['auroc_macro'])


def test_single_class_batch():
    y, probs = _random(n=40, seed=3)
    y[:] = 2
    out = _check_against_hand(y, probs)
    assert np.isnan(out['auroc_macro'])
    perfect = classification_metrics(np.zeros(5, int), np.tile([.7, .1, .1, .1], (5, 1)))
    assert perfect['accuracy'] == perfect['balanced_accuracy'] == perfect['macro_f1'] == 1.
    assert np.isnan(perfect['kappa_quadratic'])  # undefined: one class in truth and prediction
    assert perfect['ece'] == pytest.approx(0.3)  # confidence 0.7, accuracy 1


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match='num_classes'):
        classification_metrics(np.zeros(3, int), np.full((3, 4), .25), num_classes=5)
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 4\)'):
        classification_metrics(np.array([0, 4]), np.full((2, 4), .25))


@pytest.mark.parametrize('how', ['mean', 'vote'])
def test_aggregate_by_group_matches_pandas(how):
    y, probs = _random(n=200, seed=4)
    rng = np.random.default_rng(5)
    groups = np.array([f'slide{i}' for i in rng.integers(0, 12, 200)])
    probs_g, y_g, ids = aggregate_by_group(probs, y, groups, how)
    df = pd.DataFrame(probs, columns=list(range(C))).assign(g=groups, y=y, pred=probs.argmax(1))
    if how == 'mean':
        expected = df.groupby('g')[list(range(C))].mean()
    else:
        expected = pd.crosstab(df.g, df.pred, normalize='index').reindex(columns=range(C), fill_value=0.)
    np.testing.assert_array_equal(ids, expected.index.to_numpy())
    np.testing.assert_allclose(probs_g, expected.to_numpy())
    mode = df.groupby('g').y.agg(lambda s: s.value_counts().sort_index().idxmax())
    np.testing.assert_array_equal(y_g, mode.to_numpy())
    _, y_max, _ = aggregate_by_group(probs, y, groups, how, label_how='max')
    np.testing.assert_array_equal(y_max, df.groupby('g').y.max().to_numpy())


def test_aggregate_by_group_errors():
    with pytest.raises(ValueError, match='same length'):
        aggregate_by_group(np.full((3, 2), .5), np.zeros(3, int), ['a', 'b'])
    with pytest.raises(ValueError, match="'mean' or 'vote'"):
        aggregate_by_group(np.full((2, 2), .5), np.zeros(2, int), ['a', 'b'], how='max')


def test_average_probabilities():
    members = [_random(n=50, seed=s)[1] for s in range(3)]
    mean, spread = average_probabilities(members)
    np.testing.assert_allclose(mean, (members[0] + members[1] + members[2]) / 3)
    k = mean.argmax(1)
    expected = np.std([m[np.arange(50), k] for m in members], axis=0)
    np.testing.assert_allclose(spread, expected)


def test_rows_in_percent_converts_only_unmarked_fractions():
    from mmmedfm.evaluation.functional import rows_in_percent
    old = {'method': 'lora', 'accuracy': 0.5, 'balanced_accuracy': 0.625, 'macro_f1': 41.5, 'kappa_quadratic': 0.8,
           'wsi_accuracy': float('nan')}
    new = {'method': 'lora', 'accuracy': 0.5, 'balanced_accuracy': 62.5, 'rates': 'percent'}
    got_old, got_new = rows_in_percent([old, new])
    # fractions x100; a rate already in % in an old row (training cells' macro F1) is kept; kappa is no rate
    assert got_old['accuracy'] == 50. and got_old['balanced_accuracy'] == 62.5 and got_old['macro_f1'] == 41.5
    assert got_old['kappa_quadratic'] == 0.8 and np.isnan(got_old['wsi_accuracy']) and got_old['rates'] == 'percent'
    assert got_new == new
