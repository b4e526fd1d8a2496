"""ClinicalMetric / WSIMetric through MMEngine's Evaluator: numbers vs sklearn/pandas, files written."""
import numpy as np
import pandas as pd
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample
from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, confusion_matrix, f1_score, log_loss

CLASSES = ('NC', 'G3', 'G4', 'G5')


def _samples(n=120, seed=0, with_wsi=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    logits = rng.normal(0, 1, (n, 4))
    logits[np.arange(n), y] += 1.
    probs = torch.from_numpy(logits).softmax(-1).float()
    wsi = np.array([f'S{i}' for i in rng.integers(0, 10, n)])
    samples = []
    for i in range(n):
        s = DataSample().set_gt_label(int(y[i])).set_pred_score(probs[i])
        if with_wsi:
            s.set_metainfo(dict(wsi_id=str(wsi[i])))
        samples.append(s.to_dict())
    probs = probs.double().numpy()
    return samples, y, probs / probs.sum(1, keepdims=True), wsi


def _evaluate(cfg, samples):
    evaluator = Evaluator(cfg)
    evaluator.dataset_meta = dict(classes=CLASSES)
    for i in range(0, len(samples), 32):
        evaluator.process(samples[i:i + 32])
    return evaluator.evaluate(len(samples))


def test_clinical_metric_numbers_and_files(tmp_path):
    samples, y, probs, _ = _samples()
    out = _evaluate(dict(type='ClinicalMetric', num_classes=4, ordinal=True, out_dir=str(tmp_path)), samples)
    pred = probs.argmax(1)
    assert out['cls/balanced_accuracy'] == pytest.approx(100 * balanced_accuracy_score(y, pred))
    assert out['cls/macro_f1'] == pytest.approx(100 * f1_score(y, pred, average='macro'))
    assert out['cls/kappa_quadratic'] == pytest.approx(cohen_kappa_score(y, pred, weights='quadratic'))
    assert out['cls/nll'] == pytest.approx(log_loss(y, probs), rel=1e-5)
    assert out['cls/recall_G4'] == pytest.approx(100 * np.mean(pred[y == 2] == 2))
    assert out['cls/precision_NC'] == pytest.approx(100 * np.mean(y[pred == 0] == 0))
    csv = pd.read_csv(tmp_path / 'cls_confusion_matrix.csv', index_col=0)
    assert list(csv.columns) == list(CLASSES)
    np.testing.assert_array_equal(csv.to_numpy(), confusion_matrix(y, pred))
    for name in ('cls_confusion_matrix.png', 'cls_reliability.png'):
        assert (tmp_path / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.parametrize('aggregate', ['mean', 'vote'])
def test_wsi_metric_matches_pandas_groupby(tmp_path, aggregate):
    samples, y, probs, wsi = _samples(seed=1)
    out = _evaluate(dict(type='WSIMetric', aggregate=aggregate, out_dir=str(tmp_path)), samples)
    df = pd.DataFrame(probs).assign(wsi=wsi, y=y, pred=probs.argmax(1))
    if aggregate == 'mean':
        slide_pred = df.groupby('wsi')[[0, 1, 2, 3]].mean().to_numpy().argmax(1)
    else:
        slide_pred = df.groupby('wsi').pred.agg(lambda s: s.value_counts().sort_index().idxmax()).to_numpy()
    slide_y = df.groupby('wsi').y.agg(lambda s: s.value_counts().sort_index().idxmax()).to_numpy()
    assert out['wsi/num_slides'] == 10
    assert out['wsi/accuracy'] == pytest.approx(100 * np.mean(slide_pred == slide_y))
    assert out['wsi/balanced_accuracy'] == pytest.approx(100 * balanced_accuracy_score(slide_y, slide_pred))
    assert (tmp_path / 'wsi_reliability.png').is_file()


def test_wsi_metric_needs_slide_ids():
    samples, *_ = _samples(n=8, with_wsi=False)
    with pytest.raises(KeyError, match="meta_keys"):
        _evaluate(dict(type='WSIMetric', save_figures=False), samples)


def test_balanced_accuracy_kept():
    samples, y, probs, _ = _samples(n=40)
    for s, p in zip(samples, probs.argmax(1)):
        s['pred_label'] = torch.tensor([p])
    out = _evaluate(dict(type='BalancedAccuracy', num_classes=4), samples)
    assert out['cls/balanced_accuracy'] == pytest.approx(100 * balanced_accuracy_score(y, probs.argmax(1)))


def test_long_class_names_are_abbreviated_with_a_key(tmp_path):
    from mmmedfm.evaluation.plots import class_labels, save_confusion_matrix
    from mmmedfm.datasets.patchgastric import PATCHGASTRIC_CLASSES
    labels, key = class_labels(PATCHGASTRIC_CLASSES)
    assert labels == ['WDTA', 'MDTA', 'PDA'] and 'PDA = poorly differentiated adenocarcinoma' in key.replace('\n', ' ')
    assert class_labels(['NC', 'G3']) == (['NC', 'G3'], '')
    assert class_labels(['long name number one x', 'long name number one y'])[0] == ['LNNOX', 'LNNOY']
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    save_confusion_matrix(cm, PATCHGASTRIC_CLASSES, str(tmp_path / 'cm.png'), str(tmp_path / 'cm.csv'))
    csv = pd.read_csv(tmp_path / 'cm.csv', index_col=0)  # the CSV keeps the full names
    assert list(csv.columns) == list(PATCHGASTRIC_CLASSES) and (csv.to_numpy() == cm).all()


def test_per_class_precision_recall_equal_mmpretrain_single_label_metric(tmp_path):
    """The same samples through MMPretrain's own SingleLabelMetric (classwise, in %) and ours."""
    samples, *_ = _samples(seed=2)
    ours = _evaluate(dict(type='ClinicalMetric', num_classes=4, save_figures=False), samples)
    theirs = _evaluate(dict(type='SingleLabelMetric', items=('precision', 'recall'), average=None), samples)
    np.testing.assert_allclose([ours[f'cls/precision_{c}'] for c in CLASSES],
                               theirs['single-label/precision_classwise'], rtol=1e-5)
    np.testing.assert_allclose([ours[f'cls/recall_{c}'] for c in CLASSES],
                               theirs['single-label/recall_classwise'], rtol=1e-5)
