"""Test-time wrapper: temperature-scaled class probabilities, averaged over test-time views when there are any."""
from typing import List

import torch
from mmpretrain.models.tta import AverageClsScoreTTA
from mmpretrain.structures import DataSample

from mmmedfm.registry import MODELS


def scale_probabilities(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(logits / T)`` from ``probs = softmax(logits)``: ``log probs`` differs from the logits by a
    per-row constant, which softmax ignores, so this is exact (probabilities that underflowed to 0 stay 0).

    Args:
        probs (Tensor): ``(..., C)`` probabilities.
        temperature (float): ``T > 0``.
    """
    if temperature == 1.:
        return probs
    tiny = torch.finfo(probs.dtype).tiny
    return torch.softmax(probs.clamp_min(tiny).log() / temperature, dim=-1)


@MODELS.register_module()
class CalibratedTTA(AverageClsScoreTTA):
    """MMPretrain's ``AverageClsScoreTTA`` with temperature scaling (Guo et al. 2017) of each view's
    probabilities before they are averaged; a batch without views (plain test pipeline) is one view.

    One wrapper for ``tools/test.py --temperature`` with or without ``--tta``: MMEngine's checkpoint loader
    unwraps one test-time wrapper, not two nested ones, so temperature and TTA share this class.

    Args:
        module (dict | nn.Module): The classifier.
        temperature (float): ``T`` from ``tools/analysis/calibrate.py``. Defaults to 1 (plain averaging).
    """

    def __init__(self, module, temperature: float = 1., **kwargs):
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}.')
        super().__init__(module=module, **kwargs)
        self.temperature = float(temperature)

    def test_step(self, data):
        # TestTimeAug batches hold one list of data samples per view (with any collate function)
        samples = data.get('data_samples') or [None]
        if isinstance(samples[0], (list, tuple)):
            return super().test_step(data)
        return self.merge_preds([[s] for s in self.module.test_step(data)])

    def _merge_single_sample(self, data_samples: List[DataSample]) -> DataSample:
        merged = data_samples[0].new()
        score = torch.stack([scale_probabilities(s.pred_score, self.temperature) for s in data_samples]).mean(0)
        merged.set_pred_score(score)
        merged.set_pred_label(score.argmax(-1, keepdim=True))
        return merged
