from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

from mmmedfm.registry import METRICS


@METRICS.register_module()
class BalancedAccuracy(BaseMetric):
    """Accuracy, balanced accuracy (mean per-class recall) and the confusion matrix (logged).

    Formulas are scikit-learn's. Keys: ``{prefix}/accuracy``, ``{prefix}/balanced_accuracy``.

    Args:
        num_classes (int, optional): Fixes the confusion-matrix size when a class is absent from a batch.
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
        labels = np.arange(self.num_classes) if self.num_classes else None
        cm = confusion_matrix(y_true, y_pred, labels=labels)
        print_log(f'Confusion matrix (rows: true, cols: predicted):\n{cm}', logger='current')
        return dict(accuracy=100. * accuracy_score(y_true, y_pred),
                    balanced_accuracy=100. * balanced_accuracy_score(y_true, y_pred))
