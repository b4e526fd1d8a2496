"""Synthetic cached features for tests and benchmarks: class-conditional clusters on the unit sphere."""
from types import SimpleNamespace
from typing import Tuple

import torch
import torch.nn.functional as F


def make_synthetic_features(num_classes: int = 4, dim: int = 32, per_class: int = 40, noise: float = 1.5,
                            text_noise: float = 0.5, seed: int = 0, split: str = 'train',
                            means_seed: int = 0, cone: float = 0.) -> Tuple[SimpleNamespace, torch.Tensor]:
    """A ``FeatureSet``-like namespace (``features (N, D)`` unit-norm, ``labels``, ``image_ids``, ``wsi_ids``,
    ``classes``) and ``(C, D)`` unit-norm "text" prototypes near the class means.

    ``means_seed`` fixes the class means (and prototypes), ``seed`` the samples, so train/test sets drawn with
    different seeds share classes. ``cone`` (default 0: isotropic) adds that multiple of one unit direction shared
    by every class before normalising: real CLIP image features lie in a narrow cone (mean pairwise cosine about
    0.5), which sets the scale of ``X^T X`` that step-size rules such as LP++'s Lipschitz bound read.
    """
    g = torch.Generator().manual_seed(means_seed)
    means = F.normalize(torch.randn(num_classes, dim, generator=g), dim=-1)
    text = F.normalize(means + text_noise * torch.randn(num_classes, dim, generator=g) / dim ** 0.5, dim=-1)
    shared = cone * F.normalize(torch.randn(dim, generator=g), dim=0) if cone else 0.
    g = torch.Generator().manual_seed(seed + 1000)
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    feats = F.normalize(shared + means[labels] + noise * torch.randn(len(labels), dim, generator=g) / dim ** 0.5 * 2, dim=-1)
    ids = [f'{split}_{i:05d}' for i in range(len(labels))]
    return SimpleNamespace(features=feats, labels=labels, image_ids=ids,
                           wsi_ids=[f'wsi{int(y)}_{i % 3}' for i, y in enumerate(labels)],
                           classes=[f'class {c}' for c in range(num_classes)]), text
