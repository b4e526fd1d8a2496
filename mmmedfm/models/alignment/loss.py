"""Symmetric InfoNCE (CLIP) loss with a same-caption false-negative mask."""
from typing import Optional

import torch
import torch.nn.functional as F


def same_group_mask(groups: torch.Tensor) -> torch.Tensor:
    """``(B, B)`` bool: ``True`` where ``i != j`` share a group (same caption / same WSI) -> not a negative."""
    same = groups[:, None] == groups[None, :]
    return same & ~torch.eye(len(groups), dtype=torch.bool, device=groups.device)


def info_nce_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                  groups: Optional[torch.Tensor] = None, image_weight: float = 0.5) -> torch.Tensor:
    """CLIP's symmetric cross-entropy over in-batch pairs, with duplicate-caption negatives removed.

    ``logits = logit_scale * image_emb @ text_emb^T``; pair ``i`` is the positive of row/column ``i``. Many
    PatchGastric patches share their slide's single caption: pairs ``(i, j)``, ``i != j``, of the same group are
    not negatives (they hold the same caption), so they are dropped from both softmax denominators.

    Args:
        image_emb: ``(B, E)`` L2-normalised image embeddings.
        text_emb: ``(B, E)`` L2-normalised text embeddings (row ``i`` is the caption of image ``i``).
        logit_scale: scalar, ``1 / temperature``.
        groups: ``(B,)`` group id per pair (caption index or WSI); ``None`` = plain CLIP loss.
        image_weight: Weight ``w`` of the text->image term (softmax over images per caption, Adaptor-VL-SSL's
            ``image_loss``). Defaults to 0.5 (CLIP's symmetric loss); Adaptor-VL-SSL uses 0.75.

    Returns:
        Scalar ``(1 - w) CE_image->text + w CE_text->image``.
    """
    logits = logit_scale * image_emb @ text_emb.t()
    if groups is not None:
        logits = logits.masked_fill(same_group_mask(groups), float('-inf'))
    target = torch.arange(len(logits), device=logits.device)
    return (1 - image_weight) * F.cross_entropy(logits, target) + image_weight * F.cross_entropy(logits.t(), target)
