from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from mmmedfm.registry import METRICS
from ..functional import confusion


@METRICS.register_module()
class BalancedAccuracy(BaseMetric):
    """Accuracy and balanced accuracy (mean per-class recall), in percent; the confusion matrix is logged.

    A light metric that needs only ``pred_label``; :class:`ClinicalMetric` reports these and much more.
    Keys: ``{prefix}/accuracy``, ``{prefix}/balanced_accuracy``.

    Args:
        num_classes (int, optional): Fixes the confusion-matrix size when a class is absent from a batch.
        collect_device (str): Device used to gather results across ranks. Defaults to ``'cpu'``.
        prefix (str): Metric-name prefix. Defaults to ``'cls'``.
    """

    default_prefix = 'cls'

    def __init__(self, num_classes: Optional[int] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            self.results.append((int(s['gt_label'].item()), int(s['pred_label'].item())))

    def compute_metrics(self, results: List) -> dict:
        y_true, y_pred = np.array(results).T
        num_classes = self.num_classes or int(max(y_true.max(), y_pred.max())) + 1
        cm = confusion(y_true, y_pred, num_classes)
        print_log(f'Confusion matrix (rows: true, cols: predicted):\n{cm}', logger='current')
        return dict(accuracy=100. * accuracy_score(y_true, y_pred),
                    balanced_accuracy=100. * balanced_accuracy_score(y_true, y_pred))
