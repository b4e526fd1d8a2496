"""``FeatureSet``: the embeddings of one dataset split, as read from (or written to) an image cache folder."""
from dataclasses import dataclass, field
from typing import List

import torch
import torch.nn.functional as F

from .shards import ShardedArrays, write_shards


@dataclass
class FeatureSet:
    """Embeddings of one dataset split.

    Attributes:
        features (Tensor): ``(N, D)`` float32, L2-normalised.
        labels (LongTensor): ``(N,)`` class indices.
        image_ids (list[str]): Image paths, in the same order.
        wsi_ids (list[str]): Slide id per image (``''`` if the dataset has none).
        classes (list[str]): Class names in label order.
        meta (dict): What the writer recorded (cache key, split, backbone config, seconds).
    """
    features: torch.Tensor
    labels: torch.Tensor
    image_ids: List[str]
    wsi_ids: List[str]
    classes: List[str]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.image_ids)

    def save(self, folder: str) -> None:
        """Write the set as a one-shard cache folder (``pooled`` tensor + ``index.json``)."""
        write_shards(folder, len(self), lambda start, stop: dict(pooled=self.features[start:stop].float()),
                     dict(image_ids=self.image_ids, labels=self.labels.tolist(), wsi_ids=self.wsi_ids,
                          classes=self.classes, meta=self.meta), shard_size=max(1, len(self)), desc='save')

    @classmethod
    def load(cls, folder: str) -> 'FeatureSet':
        """Read an image cache folder (``tools/extract_features.py`` or ``tools/extract_unimodal.py`` output);
        ``pooled`` embeddings are L2-normalised in float32."""
        arrays = ShardedArrays(folder)
        index = arrays.index
        pooled = arrays.load('pooled')
        if pooled.ndim != 2 or not torch.isfinite(pooled).all():
            raise ValueError(f'{folder}: pooled embeddings of shape {tuple(pooled.shape)} (finite: '
                             f'{bool(torch.isfinite(pooled).all())}), expected (N, D) finite values; delete the '
                             'folder to re-extract.')
        features = F.normalize(pooled.float(), dim=-1)
        lists = [index.get(k) for k in ('image_ids', 'labels', 'wsi_ids')]
        if any(not isinstance(v, list) or len(v) != len(features) for v in lists):
            raise ValueError(f'{folder}: index.json lists (image_ids, labels, wsi_ids) do not match the '
                             f'{len(features)} stored embeddings; delete the folder to re-extract.')
        classes = index.get('classes') or []
        bad = [v for v in index['labels'] if not isinstance(v, int) or not 0 <= v < max(len(classes), 1)]
        if classes and bad:
            raise ValueError(f'{folder}: index.json labels {bad[:3]} are not class indices of {classes}; delete '
                             'the folder to re-extract.')
        return cls(features=features, labels=torch.tensor(index['labels'], dtype=torch.long),
                   image_ids=index['image_ids'], wsi_ids=index['wsi_ids'], classes=index.get('classes', []),
                   meta=index.get('meta', {}))

    def reordered(self, image_ids: List[str]) -> 'FeatureSet':
        """The same set in the order of ``image_ids`` (all must be present)."""
        index = {p: i for i, p in enumerate(self.image_ids)}
        idx = torch.tensor([index[p] for p in image_ids], dtype=torch.long)
        return FeatureSet(self.features[idx], self.labels[idx], list(image_ids),
                          [self.wsi_ids[i] for i in idx.tolist()], self.classes, self.meta)
