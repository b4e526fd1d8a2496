"""Tip-Adapter's batched alpha/beta search gives bit-for-bit the scores of one balanced accuracy per grid point."""
import torch
import torch.nn.functional as F

from mmmedfm.models.adapters.base import balanced_accuracy
from mmmedfm.models.adapters.tip_adapter import alpha_beta_scores, search_grid, tip_logits


def test_batched_scores_equal_the_per_point_loop():
    alphas, betas = search_grid(10., 20), search_grid(12., 15)
    for seed in range(12):
        g = torch.Generator().manual_seed(seed)
        classes, n, k = 2 + seed % 4, 5 + 3 * seed, 4 + 2 * seed
        x = F.normalize(torch.randn(n, 8, generator=g), dim=-1)
        y = torch.randint(0, classes, (n, ), generator=g)
        keys = F.normalize(torch.randn(k, 8, generator=g), dim=-1)
        values = F.one_hot(torch.randint(0, classes, (k, ), generator=g), classes).float()
        zs = torch.randn(n, classes, generator=g) * (seed % 3)  # zero-shot logits 0: many tied grid points
        expected = torch.tensor([[balanced_accuracy(tip_logits(x, zs, keys, values, a, b), y) for a in alphas]
                                 for b in betas])
        assert torch.equal(alpha_beta_scores(x, y, zs, keys, values, alphas, betas), expected)
