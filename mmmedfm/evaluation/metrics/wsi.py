from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
from mmengine.logging import print_log

from mmmedfm.registry import METRICS
from ..functional import aggregate_by_group
from .clinical import ClinicalMetric


@METRICS.register_module()
class WSIMetric(ClinicalMetric):
    """Slide-level clinical metrics: patch probabilities aggregated per slide, then :class:`ClinicalMetric`.

    Each data sample must carry the slide id in its metainfo (``group_key``, ``wsi_id`` for the datasets
    here): add it to ``PackInputs(meta_keys=...)`` in the test pipeline. Same keys and figures as
    ``ClinicalMetric`` (prefix ``wsi``), computed on one row per slide, plus ``num_slides``.

    Args:
        aggregate (str): ``'mean'`` (mean probability over the slide's patches, CITE's WSI accuracy) or
            ``'vote'`` (majority vote of patch predictions; the vote shares act as probabilities).
        label_how (str): Slide label from patch labels: ``'mode'`` (most frequent) or ``'max'`` (highest class
            index present: the worst grade for ordered classes). Defaults to ``'mode'``.
        group_key (str): Metainfo key of the slide id. Defaults to ``'wsi_id'``.
        **kwargs: :class:`ClinicalMetric` arguments.
    """

    default_prefix = 'wsi'

    def __init__(self, aggregate: str = 'mean', label_how: str = 'mode', group_key: str = 'wsi_id',
                 prefix: Optional[str] = None, **kwargs):
        if aggregate not in ('mean', 'vote'):
            raise ValueError(f"WSIMetric: aggregate must be 'mean' or 'vote', got {aggregate!r}.")
        if label_how not in ('mode', 'max'):
            raise ValueError(f"WSIMetric: label_how must be 'mode' or 'max', got {label_how!r}.")
        super().__init__(prefix=prefix, **kwargs)
        self.aggregate, self.label_how, self.group_key = aggregate, label_how, group_key

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            if self.group_key not in s:
                raise KeyError(f'WSIMetric: data sample has no {self.group_key!r}; add it to the test '
                               f"pipeline's PackInputs, e.g. dict(type='PackInputs', meta_keys=(..., "
                               f"'{self.group_key}')).")
            row = self._row(s)
            row['group'] = str(s[self.group_key])
            self.results.append(row)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        y = np.array([r['y'] for r in results])
        probs = np.stack([r['probs'] for r in results])
        groups = np.array([r['group'] for r in results])
        probs_g, y_g, ids = aggregate_by_group(probs, y, groups, self.aggregate, self.label_how)
        mixed = int(pd.Series(y).groupby(groups).nunique().gt(1).sum())
        if mixed:
            print_log(f'{self.prefix}: {mixed} of {len(ids)} slides have patches of several classes; slide '
                      f'label = {self.label_how} of its patch labels.', logger='current')
        out = self.evaluate_arrays(y_g, probs_g, self.prefix)
        out['num_slides'] = len(ids)
        return out
