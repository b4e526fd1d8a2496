import torch
import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import BaseAdapter, kfold_splits


@MODELS.register_module()
class LPPlusPlus(BaseAdapter):
    """LP++ (Huang, Shakeri, Dolz, Boudiaf, Bahig, Ben Ayed, "LP++: A Surprisingly Strong Linear Probe for
    Few-Shot CLIP", CVPR 2024): a text-informed linear probe whose class weights blend a visual prototype with the
    text embedding through a class-wise multiplier,

        ``logits_c(x) = x . w_c + b_c + alpha_c * (x . t_c)``,

    trained with cross-entropy by block-coordinate descent on ``(W, b)`` and ``alpha``.

    As in the authors' release (FereshteShakeri/FewShot-CLIP-Strong-Baseline ``methods/linear_probe_p2.py``):
    ``W`` starts at the per-class *sums* of the support features (``utils.compute_centroids``, not means);
    ``alpha`` at one value shared by all classes, ``init_scale`` (250) times the mean of the ``(C, C)`` matrix of
    class-mean text scores (row ``c``: mean over class ``c``'s samples of ``x . t_c'``); the step sizes are not
    searched but derived from the data: ``lr_W = 4 N / lambda_max(X^T X)`` and
    ``lr_alpha = N / (4 max_c sum_i (x_i . t_c)^2)``; ``W, b`` take a full-batch SGD step with momentum 0.9 every
    epoch and ``alpha`` a plain step every ``alpha_every`` epochs along its gradient *accumulated since the
    start* (the release never zeroes ``alpha``'s gradient).
    The release keeps the epoch with the best accuracy on its few-shot validation set (``>=``: the last best).
    Few labels only: we pick that epoch count on ``fit(val=...)`` if given, else by stratified k-fold over the
    support set (the mean validation-accuracy curve of ``folds`` runs), then train on the whole support set for
    that many epochs; with 1 shot per class all ``epochs`` run. The bias keeps ``nn.Linear``'s random init, as
    in the release (drawn from the fit's seed).

    Hyper-parameters with few labels: no step size or weight searched (the method's point); the epoch count
    as above (``select_epoch=False``: always ``epochs``).

    Args:
        epochs (int): Full-batch iterations. Defaults to 300.
        alpha_every (int): Update ``alpha`` every this many iterations. Defaults to 10.
        init_scale (float): Scale of the ``alpha`` initialisation. Defaults to 250.
        select_epoch (bool): Choose the epoch count on held-out shots. Defaults to True.
        folds (int): Folds of the support set for the epoch choice. Defaults to 4.
        seed (int): Seed of the held-out split.
    """

    def __init__(self, epochs: int = 300, alpha_every: int = 10, init_scale: float = 250.,
                 select_epoch: bool = True, folds: int = 4, seed: int = 0):
        super().__init__(seed)
        self.epochs, self.alpha_every, self.init_scale = epochs, alpha_every, init_scale
        self.select_epoch, self.folds = select_epoch, folds

    def _fit(self, x, y, val):
        # The release's classifier is an nn.Linear whose weight is then replaced: its bias keeps the default
        # random init U(-1/sqrt(D), 1/sqrt(D)). LP++'s large implicit step sizes make the result sensitive to it.
        self.init_bias = nn.Linear(x.shape[1], self.num_classes).bias.detach().to(x.device)
        self.epochs_ = self.epochs
        if self.select_epoch:
            if val is not None:
                accs = self._train(x, y, val)
            else:  # k-fold over the support set: the mean accuracy curve of the folds
                splits = kfold_splits(y, self.seed, self.folds)
                curves = [self._train(x[tr], y[tr], (x[va], y[va])) for tr, va in splits]
                accs = [sum(c) / len(c) for c in zip(*curves)] if curves else None
            if accs:  # the last epoch with the best accuracy (the release's ``>=``)
                best = max(accs)
                self.epochs_ = max(i for i, a in enumerate(accs) if a == best) + 1
        self._train(x, y, None, self.epochs_)

    def _train(self, x, y, val=None, epochs=None):
        """Train from scratch on ``(x, y)``; returns the accuracy on ``val`` after every epoch (if given)."""
        n, text = len(x), self.zs_weights
        onehot = F.one_hot(y, self.num_classes).float()
        counts = onehot.sum(0).clamp(min=1)
        text_scores = x @ text.t()  # (N, C)
        class_mean_scores = onehot.t() @ text_scores / counts[:, None]  # (C, C)
        lr_w = 4 * n / float(torch.linalg.eigvalsh(x.t().double() @ x.double()).max())
        lr_alpha = n / (4 * float(text_scores.pow(2).sum(0).max()))
        self.weight = torch.nn.Parameter(onehot.t() @ x)
        self.bias = torch.nn.Parameter(self.init_bias.clone())
        init = self.init_scale * float(class_mean_scores.mean())
        self.alpha = torch.nn.Parameter(torch.full((self.num_classes,), init, device=x.device))
        optim = torch.optim.SGD([self.weight, self.bias], lr=lr_w, momentum=0.9)
        self.history, accs = [], []
        for it in range(self.epochs if epochs is None else epochs):
            loss = F.cross_entropy(self(x), y)
            optim.zero_grad()  # W and b only: alpha's gradient accumulates, as in the release
            loss.backward()
            optim.step()
            if (it + 1) % self.alpha_every == 0:
                with torch.no_grad():
                    self.alpha -= lr_alpha * self.alpha.grad
            self.history.append(loss.item())
            if val is not None:
                with torch.no_grad():
                    accs.append(float((self(val[0]).argmax(1) == val[1]).float().mean()))
        return accs

    def forward(self, x):
        return x @ self.weight.t() + self.bias + self.alpha * (x @ self.zs_weights.t())
