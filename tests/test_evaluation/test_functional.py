"""Clinical metrics, ECE, WSI aggregation and ensembling against scikit-learn, pandas and hand formulas."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score, confusion_matrix,
                             f1_score, log_loss, precision_score, recall_score, roc_auc_score)

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


def _check_against_sklearn(y, probs):
    labels = np.arange(probs.shape[1])
    pred = probs.argmax(1)
    out = classification_metrics(y, probs, ordinal=True)
    assert out['accuracy'] == pytest.approx(accuracy_score(y, pred))
    assert out['balanced_accuracy'] == pytest.approx(balanced_accuracy_score(y, pred))
    assert out['macro_f1'] == pytest.approx(f1_score(y, pred, labels=labels, average='macro',
                                                     zero_division=np.nan))
    assert out['kappa_quadratic'] == pytest.approx(cohen_kappa_score(y, pred, weights='quadratic'))
    assert out['kappa_linear'] == pytest.approx(cohen_kappa_score(y, pred, weights='linear'))
    assert out['ordinal_mae'] == pytest.approx(np.abs(y - pred).mean())
    assert out['nll'] == pytest.approx(log_loss(y, probs, labels=labels))
    assert out['brier'] == pytest.approx(np.mean(np.sum((probs - np.eye(probs.shape[1])[y]) ** 2, 1)))
    assert out['ece'] == pytest.approx(_ece_loop(probs, y))
    np.testing.assert_allclose(per_class_precision(y, pred, C),
                               precision_score(y, pred, labels=labels, average=None, zero_division=0))
    np.testing.assert_allclose(per_class_recall(y, pred, C),
                               recall_score(y, pred, labels=labels, average=None, zero_division=0))
    np.testing.assert_array_equal(confusion(y, pred, C), confusion_matrix(y, pred, labels=labels))
    return out


def test_metrics_match_sklearn_on_random_predictions():
    y, probs = _random()
    out = _check_against_sklearn(y, probs)
    assert out['auroc_macro'] == pytest.approx(roc_auc_score(y, probs, multi_class='ovr'))
    assert 0.3 < out['accuracy'] < 0.9  # not a degenerate draw


def test_class_never_predicted():
    y, probs = _random(seed=1)
    probs[:, 3] = 1e-4  # class 3 is in y but never the argmax
    probs /= probs.sum(1, keepdims=True)
    assert 3 in y and 3 not in probs.argmax(1)
    out = _check_against_sklearn(y, probs)
    assert out['auroc_macro'] == pytest.approx(roc_auc_score(y, probs, multi_class='ovr'))
    assert per_class_precision(y, probs.argmax(1), C)[3] == 0.


def test_class_absent_from_truth_auroc_over_present_classes():
    y, probs = _random(seed=2)
    keep = y != 1
    y, probs = y[keep], probs[keep]
    _check_against_sklearn(y, probs)
    # sklearn's ovr gives NaN here; we average the binary AUROCs of the classes that are present.
    expected = np.mean([roc_auc_score(y == c, probs[:, c]) for c in (0, 2, 3)])
    assert classification_metrics(y, probs)['auroc_macro'] == pytest.approx(expected)


def test_single_class_batch():
    y, probs = _random(n=40, seed=3)
    y[:] = 2
    out = _check_against_sklearn(y, probs)
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
