from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from mmmedfm.registry import MODELS
from .base import BaseAdapter, balanced_accuracy


def fit_logistic_regression(x: torch.Tensor, y: torch.Tensor, num_classes: int, C: float,
                            max_iter: int = 500, tol: float = 1e-10):
    """Multinomial L2-regularised logistic regression by full-batch L-BFGS (float64).

    Minimises ``sum_i CE(W x_i + b, y_i) + ||W||^2 / (2 C)`` (bias unpenalised): the objective of sklearn's
    ``LogisticRegression(C=C)`` (lbfgs, multinomial). Written in torch (not sklearn) so the probe is a torch
    module that runs where the cached features live (GPU) like the other adapters.

    Returns:
        tuple: ``weight (C, D)`` and ``bias (C,)`` as float32.
    """
    x64, n = x.double(), len(x)
    onehot = F.one_hot(y, num_classes).double()
    w = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optim = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, tolerance_grad=tol, tolerance_change=tol * 1e-2,
                              history_size=20, line_search_fn='strong_wolfe')

    @torch.no_grad()
    def closure():
        # Loss and gradient in closed form (d CE / d logits = softmax - onehot): no autograd graph for the
        # thousands of line-search evaluations. Divided by n for conditioning; the minimiser is unchanged.
        log_p = (x64 @ w.t() + b).log_softmax(-1)
        loss = (-(log_p * onehot).sum() + w.pow(2).sum() / (2 * C)) / n
        residual = log_p.exp() - onehot
        w.grad = (residual.t() @ x64 + w / C) / n
        b.grad = residual.sum(0) / n
        return loss

    optim.step(closure)
    return w.detach().float(), b.detach().float()


@MODELS.register_module()
class LinearProbe(BaseAdapter):
    """Linear probe: logistic regression on the frozen features (CLIP, Radford et al., ICML 2021, Sec. 3.2/A.3).

    Hyper-parameters with few labels: the inverse L2 strength ``C`` is chosen on a few-shot validation split
    held out from the support set (``val_fraction`` of each class's shots; CLIP sweeps the weight decay on a
    validation split), by balanced accuracy, then the probe is refit on the whole support set. With 1 shot per
    class nothing can be held out and ``default_C`` is used. Setting ``C`` skips the search.

    Difference from CoOp's ``lpclip/linear_probe.py`` (the few-shot LP baseline of CoOp, Tip-Adapter, CLAP):
    lpclip draws an *extra* validation set of ``min(k, 4)`` labelled shots per class, searches ``C`` over
    ``1e6 .. 1e-6`` (x100 steps) then refines it by a binary search, and fits on all ``k`` shots. Without
    ``fit(val=...)`` we use no labels beyond the ``k`` shots: stricter (fewer shots to fit the search probes,
    none at 1 shot), so our LP can trail lpclip's numbers at 2-4 shots. Pass ``val`` to reproduce lpclip's
    protocol (its binary refinement is not reproduced: pass a finer ``C_grid``).

    Args:
        C (float, optional): Fixed inverse regularisation strength (sklearn's ``C``).
        C_grid (Sequence[float]): Candidates of the search. Defaults to ``10 ** (-2 .. 4)``.
        default_C (float): Used when no validation split can be drawn. Defaults to 100.
        val_fraction (float): Share of each class's shots held out for the search. Defaults to 0.25.
        max_iter (int): L-BFGS iterations. Defaults to 500.
        seed (int): Seed of the held-out split.
    """

    def __init__(self, C: Optional[float] = None, C_grid: Sequence[float] = (1e-2, 1e-1, 1., 10., 100., 1e3, 1e4),
                 default_C: float = 100., val_fraction: float = 0.25, max_iter: int = 500, seed: int = 0):
        super().__init__(seed)
        self.C, self.C_grid, self.default_C = C, tuple(C_grid), default_C
        self.val_fraction, self.max_iter = val_fraction, max_iter

    def _fit(self, x, y, val):
        C = self.C
        if C is None:
            split = self.search_split(x, y, val)
            C = self.default_C
            if split is not None:
                x_tr, y_tr, x_va, y_va = split
                scores = []
                for c in self.C_grid:
                    w, b = fit_logistic_regression(x_tr, y_tr, self.num_classes, c, self.max_iter)
                    scores.append(balanced_accuracy(x_va @ w.t() + b, y_va))
                C = self.C_grid[max(range(len(scores)), key=scores.__getitem__)]
        self.selected_C = C
        weight, bias = fit_logistic_regression(x, y, self.num_classes, C, self.max_iter)
        self.register_buffer('weight', weight)
        self.register_buffer('bias', bias)

    def forward(self, x):
        return x @ self.weight.t() + self.bias
