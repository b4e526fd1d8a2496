import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from mmmedfm.registry import METRICS
from ..functional import as_percent, classification_metrics, confusion, per_class_precision, per_class_recall
from ..plots import save_confusion_matrix, save_reliability_diagram


def run_log_dir() -> Optional[str]:
    """The current runner's log directory (``{work_dir}/{timestamp}``), or None outside a runner.

    Metrics never see the runner; the Runner's logger (the current ``MMLogger``) is the one object that knows
    where this run writes: its ``log_file`` is ``{work_dir}/{timestamp}/{timestamp}.log`` on rank 0, the only
    rank that computes metrics.
    """
    log_file = MMLogger.get_current_instance().log_file
    return osp.dirname(osp.abspath(log_file)) if log_file else None


@METRICS.register_module()
class ClinicalMetric(BaseMetric):
    """Patch-level clinical metrics, the confusion matrix (PNG + CSV) and a reliability diagram (PNG).

    Keys (``{prefix}/...``): ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``precision_{class}``,
    ``recall_{class}`` (percent; spaces in class names become ``_``); ``kappa_quadratic``, ``auroc_macro``, ``ece``, ``nll``, ``brier`` (natural
    scale; see :func:`mmmedfm.evaluation.functional.classification_metrics`), plus ``kappa_linear`` and
    ``ordinal_mae`` when ``ordinal``. Data samples need ``pred_score`` (probabilities) and ``gt_label``.

    Files: ``{out_dir}/{prefix}_confusion_matrix.{png,csv}`` and ``{prefix}_reliability.png``. ``out_dir``
    defaults to ``{work_dir}/{timestamp}/eval`` of the running Runner (see :func:`run_log_dir`), so every run
    keeps its own figures; within a run each evaluation replaces the previous one (the last one stays).

    Args:
        num_classes (int, optional): Number of classes; defaults to ``len(dataset_meta['classes'])`` or the
            width of ``pred_score``.
        ordinal (bool): Classes are ordered (e.g. NC < G3 < G4 < G5). Defaults to False.
        n_bins (int): Confidence bins of the ECE and the reliability diagram. Defaults to 15.
        save_figures (bool): Write the PNG/CSV files. Defaults to True.
        out_dir (str, optional): Where to write them; see above.
        collect_device (str): Device used to gather results across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Metric-name prefix. Defaults to ``'cls'``.
    """

    default_prefix = 'cls'

    def __init__(self, num_classes: Optional[int] = None, ordinal: bool = False, n_bins: int = 15,
                 save_figures: bool = True, out_dir: Optional[str] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes, self.ordinal, self.n_bins = num_classes, ordinal, n_bins
        self.save_figures, self.out_dir = save_figures, out_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            self.results.append(self._row(s))

    def _row(self, sample: dict) -> dict:
        if 'pred_score' not in sample or 'gt_label' not in sample:
            raise KeyError(f'{type(self).__name__} needs `pred_score` and `gt_label` in each data sample, '
                           f'got keys {sorted(sample)}.')
        return dict(y=int(sample['gt_label'].reshape(-1)[0]),
                    probs=sample['pred_score'].detach().float().cpu().numpy())

    def class_names(self, num_classes: int) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        return [str(c) for c in classes] if classes and len(classes) == num_classes else \
            [str(i) for i in range(num_classes)]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        y = np.array([r['y'] for r in results])
        probs = np.stack([r['probs'] for r in results])
        return self.evaluate_arrays(y, probs, self.prefix)

    def evaluate_arrays(self, y: np.ndarray, probs: np.ndarray, tag: str) -> Dict[str, float]:
        """Metrics (logged scale) of ``(N,)`` labels and ``(N, C)`` probabilities; writes the figures."""
        num_classes = self.num_classes or probs.shape[1]
        classes = self.class_names(num_classes)
        out = as_percent(classification_metrics(y, probs, num_classes, ordinal=self.ordinal))
        y_pred = probs.argmax(1)
        for name, p, r in zip(classes, per_class_precision(y, y_pred, num_classes),
                              per_class_recall(y, y_pred, num_classes)):
            key = '_'.join(str(name).split())  # metric keys have no spaces
            out[f'precision_{key}'], out[f'recall_{key}'] = 100. * p, 100. * r
        cm = confusion(y, y_pred, num_classes)
        print_log(f'{tag}: confusion matrix over {len(y)} samples (rows: true, cols: predicted; '
                  f'classes {classes}):\n{cm}', logger='current')
        if self.save_figures:
            self._save_figures(cm, classes, y, probs, tag)
        return out

    def _save_figures(self, cm, classes, y, probs, tag) -> None:
        out_dir = self.out_dir
        if out_dir is None:
            log_dir = run_log_dir()
            if log_dir is None:
                print_log(f'{type(self).__name__}: no runner log dir and no `out_dir`; figures not saved.',
                          logger='current')
                return
            out_dir = osp.join(log_dir, 'eval')
        stem = osp.join(out_dir, tag)
        save_confusion_matrix(cm, classes, f'{stem}_confusion_matrix.png', f'{stem}_confusion_matrix.csv',
                              title=f'{tag}: confusion matrix (N = {len(y)})')
        save_reliability_diagram(probs, y, f'{stem}_reliability.png', self.n_bins)
        print_log(f'{tag}: confusion matrix and reliability diagram written to {out_dir}', logger='current')
