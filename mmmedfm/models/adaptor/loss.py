"""Symmetric InfoNCE (CLIP) loss with a same-caption false-negative mask."""
from typing import Optional

import torch
import torch.nn.functional as F


def same_group_mask(groups: torch.Tensor) -> torch.Tensor:
    """``(B, B)`` bool: ``True`` where ``i != j`` share a group (same caption / same WSI) -> not a negative."""
    same = groups[:, None] == groups[None, :]
    return same & ~torch.eye(len(groups), dtype=torch.bool, device=groups.device)


def info_nce_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                  groups: Optional[torch.Tensor] = None) -> torch.Tensor:
    """CLIP's symmetric cross-entropy over in-batch pairs, with duplicate-caption negatives removed.

    ``logits = logit_scale * image_emb @ text_emb^T``; pair ``i`` is the positive of row/column ``i``. Many
    PatchGastric patches share their slide's single caption: pairs ``(i, j)``, ``i != j``, of the same group are
    not negatives (they hold the same caption), so they are dropped from both softmax denominators.

    Args:
        image_emb: ``(B, E)`` L2-normalised image embeddings.
        text_emb: ``(B, E)`` L2-normalised text embeddings (row ``i`` is the caption of image ``i``).
        logit_scale: scalar, ``1 / temperature``.
        groups: ``(B,)`` group id per pair (caption index or WSI); ``None`` = plain CLIP loss.

    Returns:
        Scalar ``(CE_image->text + CE_text->image) / 2``.
    """
    logits = logit_scale * image_emb @ text_emb.t()
    if groups is not None:
        logits = logits.masked_fill(same_group_mask(groups), float('-inf'))
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
