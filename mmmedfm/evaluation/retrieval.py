"""Image <-> text retrieval Recall@K at slide-caption level (one caption per WSI) and at patch level."""
from typing import Dict, Sequence

import torch
import torch.nn.functional as F


def recall_at_k(sim: torch.Tensor, positive: torch.Tensor, ks: Sequence[int] = (1, 5, 10)) -> Dict[int, float]:
    """Share of queries whose positive is among the top ``k`` gallery items.

    Args:
        sim: ``(Q, G)`` similarities. positive: ``(Q,)`` gallery index of each query's positive.

    Returns:
        ``{k: fraction}``, expected under random tie-breaking: with ``g`` items scored higher than the positive
        and ``t`` others tied with it, the positive's rank is ``g + U{0..t}``, a hit with probability
        ``clip((k - g) / (t + 1), 0, 1)`` (identical captions then neither inflate nor deflate recall).
    """
    pos = sim.gather(1, positive[:, None])
    greater = (sim > pos).sum(1).float()
    ties = (sim == pos).sum(1).float() - 1
    return {k: float(((k - greater) / (ties + 1)).clamp(0, 1).mean()) for k in ks}


def group_embeddings(image_emb: torch.Tensor, text_emb: torch.Tensor, caption_index: torch.Tensor):
    """Slide-caption level embeddings: per caption id, the L2-normalised mean of its images' embeddings and its
    caption's embedding. Returns ``(group_image (G, E), group_text (G, E), ids (G,))`` (ids sorted)."""
    ids, inv = caption_index.unique(sorted=True, return_inverse=True)
    sums = torch.zeros(len(ids), image_emb.shape[1], dtype=image_emb.dtype).index_add_(0, inv, image_emb)
    first = torch.full((len(ids), ), len(inv), dtype=torch.long).scatter_reduce(
        0, inv, torch.arange(len(inv)), reduce='amin')
    return F.normalize(sums, dim=-1), text_emb[first], ids


def retrieval_metrics(image_emb: torch.Tensor, text_emb: torch.Tensor, caption_index: torch.Tensor,
                      ks: Sequence[int] = (1, 5, 10)) -> Dict[str, float]:
    """Recall@K (percent) of held-out pairs.

    PatchGastric has one caption per WSI, so retrieval is defined at slide-caption level: the gallery holds each
    distinct caption once and each slide (all patches of one caption) once, a slide's embedding being the
    normalised mean of its patch embeddings. ``i2t``: slide -> its caption among all captions; ``t2i``: caption ->
    its slide among all slides; ``patch_i2t``: every patch -> its slide's caption among all captions.

    Args:
        image_emb: ``(N, E)`` L2-normalised patch embeddings. text_emb: ``(N, E)`` embedding of each patch's
            caption. caption_index: ``(N,)`` caption id per patch (slides with identical captions merge).

    Returns:
        dict: ``i2t_R@k``, ``t2i_R@k``, ``patch_i2t_R@k`` for each ``k`` and ``num_captions``, ``chance_R@1``.
    """
    g_img, g_txt, ids = group_embeddings(image_emb.float(), text_emb.float(), caption_index)
    target = torch.arange(len(ids))
    out = {}
    sim = g_img @ g_txt.t()
    for name, s in (('i2t', sim), ('t2i', sim.t())):
        for k, v in recall_at_k(s, target, ks).items():
            out[f'{name}_R@{k}'] = 100. * v
    patch_target = torch.searchsorted(ids, caption_index)
    for k, v in recall_at_k(image_emb.float() @ g_txt.t(), patch_target, ks).items():
        out[f'patch_i2t_R@{k}'] = 100. * v
    out['num_captions'] = float(len(ids))
    out['chance_R@1'] = 100. / len(ids)
    return out
