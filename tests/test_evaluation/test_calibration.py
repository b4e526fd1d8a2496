"""Temperature scaling recovers the temperature of a miscalibrated synthetic model and lowers its NLL."""
import numpy as np
import pytest
from sklearn.metrics import log_loss

from mmmedfm.evaluation import apply_temperature, ece, fit_temperature, logits_from_probs


def _synthetic(scale, n=4000, classes=4, seed=0):
    """Labels drawn from softmax(z) (so z is calibrated); the "model" outputs scale * z."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, classes))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return scale * z, y


@pytest.mark.parametrize('scale', [3., 0.4])
def test_temperature_recovers_scale_and_lowers_nll(scale):
    logits, y = _synthetic(scale)
    t = fit_temperature(logits, y)
    assert t == pytest.approx(scale, rel=0.1)
    before, after = apply_temperature(logits, 1.), apply_temperature(logits, t)
    assert log_loss(y, after) < log_loss(y, before) - 0.05
    assert ece(after, y) < ece(before, y)
    np.testing.assert_array_equal(before.argmax(1), after.argmax(1))  # accuracy unchanged
    # Held-out data from the same model: the fitted T generalises.
    test_logits, test_y = _synthetic(scale, seed=1)
    assert log_loss(test_y, apply_temperature(test_logits, t)) < log_loss(test_y, apply_temperature(test_logits, 1.))


def test_log_probs_are_valid_logits():
    logits, y = _synthetic(3.)
    probs = apply_temperature(logits, 1.)
    assert fit_temperature(logits_from_probs(probs), y) == pytest.approx(fit_temperature(logits, y), rel=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        fit_temperature(np.zeros(5), np.zeros(5, int))
