from typing import List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmmedfm.registry import METRICS
from ..retrieval import retrieval_metrics


@METRICS.register_module()
class ImageTextRecall(BaseMetric):
    """Image <-> caption Recall@K of :class:`~mmmedfm.models.AdaptorVL` predictions (see
    :func:`~mmmedfm.evaluation.retrieval.retrieval_metrics`: slide-caption and patch level, percent).

    Args:
        topk (Sequence[int]): ``K`` values. Defaults to ``(1, 5, 10)``.
    """
    default_prefix = 'retrieval'

    def __init__(self, topk: Sequence[int] = (1, 5, 10), collect_device: str = 'cpu', prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            self.results.append(dict(image_emb=s['image_emb'], text_emb=s['text_emb'],
                                     caption_index=s['caption_index']))

    def compute_metrics(self, results: List[dict]) -> dict:
        return retrieval_metrics(torch.stack([r['image_emb'] for r in results]),
                                 torch.stack([r['text_emb'] for r in results]),
                                 torch.tensor([r['caption_index'] for r in results]), self.topk)
