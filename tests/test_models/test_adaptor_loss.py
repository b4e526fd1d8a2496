import math

import numpy as np
import torch
import torch.nn.functional as F

from mmmedfm.evaluation.retrieval import recall_at_k, retrieval_metrics
from mmmedfm.models.alignment import info_nce_loss, same_group_mask


def _hand_info_nce(img, txt, scale, groups):
    """Loop-by-loop symmetric InfoNCE: the denominator of row i skips j != i with groups[j] == groups[i]."""
    s = scale * img @ txt.T
    b = len(s)
    total = 0.
    for direction in (s, s.T):
        for i in range(b):
            keep = [j for j in range(b) if j == i or groups is None or groups[j] != groups[i]]
            denom = sum(math.exp(direction[i, j]) for j in keep)
            total += -(direction[i, i] - math.log(denom)) / b
    return total / 2


def test_info_nce_matches_hand_computation_with_same_wsi_mask():
    g = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(5, 4, generator=g), dim=-1)
    txt = F.normalize(torch.randn(5, 4, generator=g), dim=-1)
    groups = torch.tensor([0, 0, 1, 2, 2])  # pairs 0/1 and 3/4 come from the same WSI (same caption)
    got = info_nce_loss(img, txt, torch.tensor(10.), groups)
    want = _hand_info_nce(img.double().numpy(), txt.double().numpy(), 10., groups.tolist())
    assert abs(float(got) - want) < 1e-5
    # Without the mask it is CLIP's plain loss (and differs here).
    plain = info_nce_loss(img, txt, torch.tensor(10.))
    assert abs(float(plain) - _hand_info_nce(img.double().numpy(), txt.double().numpy(), 10., None)) < 1e-5
    assert abs(float(plain) - float(got)) > 1e-3
    assert same_group_mask(groups).sum() == 4 and not same_group_mask(groups).diagonal().any()


def test_recall_at_k_by_hand_incl_ties():
    sim = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.4, 0.4, 0.4]])
    r = recall_at_k(sim, torch.tensor([0, 1, 2]), ks=(1, 2))
    # query 0: rank 0 -> hit@1; query 1: rank 1 -> hit@2 only; query 2: 2 ties -> P(hit@1)=1/3, P(hit@2)=2/3
    assert abs(r[1] - (1 + 0 + 1 / 3) / 3) < 1e-6 and abs(r[2] - (1 + 1 + 2 / 3) / 3) < 1e-6


def test_slide_caption_retrieval_uses_mean_patch_embedding():
    img = F.normalize(torch.tensor([[1., 0.], [0.6, 0.8], [0.2, 1.]]), dim=-1)
    txt_caps = F.normalize(torch.tensor([[1., 1.], [-1., 1.]]), dim=-1)
    cap = torch.tensor([0, 0, 1])
    res = retrieval_metrics(img, txt_caps[cap], cap, ks=(1, ))
    slide0 = F.normalize(img[:2].sum(0), dim=0)
    sims = (torch.stack([slide0, img[2]]) @ txt_caps.T).numpy()
    want_i2t = np.mean([sims[0].argmax() == 0, sims[1].argmax() == 1]) * 100
    assert res['i2t_R@1'] == want_i2t and res['num_captions'] == 2
    want_patch = np.mean((img @ txt_caps.T).argmax(1).numpy() == cap.numpy()) * 100
    assert abs(res['patch_i2t_R@1'] - want_patch) < 1e-4


def test_image_weight_matches_adaptor_vl_ssl_loss():
    """Port of Adaptor-VL-SSL's CLIPLossFromSimilarities on logits_per_text (texts x images), image_weight 0.75."""
    g = torch.Generator().manual_seed(1)
    img = F.normalize(torch.randn(6, 4, generator=g), dim=-1)
    txt = F.normalize(torch.randn(6, 4, generator=g), dim=-1)
    per_text = 7. * txt @ img.t()
    caption_loss = -torch.diag(F.log_softmax(per_text, dim=0)).mean()
    image_loss = -torch.diag(F.log_softmax(per_text, dim=1)).mean()
    want = 0.25 * caption_loss + 0.75 * image_loss
    torch.testing.assert_close(info_nce_loss(img, txt, torch.tensor(7.), image_weight=0.75), want)
    torch.testing.assert_close(info_nce_loss(img, txt, torch.tensor(7.), image_weight=0.5),
                               (caption_loss + image_loss) / 2)
