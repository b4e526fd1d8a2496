import torch
import torch.nn.functional as F

from mmmedfm.registry import MODELS
from .base import BaseAdapter


@MODELS.register_module()
class LPPlusPlus(BaseAdapter):
    """LP++ (Huang, Shakeri, Dolz, Boudiaf, Bahig, Ben Ayed, "LP++: A Surprisingly Strong Linear Probe for
    Few-Shot CLIP", CVPR 2024): a text-informed linear probe whose class weights blend a visual prototype with the
    text embedding through a class-wise multiplier,

        ``logits_c(x) = x . w_c + b_c + alpha_c * (x . t_c)``,

    trained with cross-entropy by block-coordinate descent on ``(W, b)`` and ``alpha``.

    Faithful parts: ``W`` is initialised with the class centroids of the support features; ``alpha`` with one
    data-driven value shared by all classes (``init_scale`` times the mean over classes of the mean text score
    ``x . t_c`` of the class's own samples; ``init_scale = 250`` as in the authors' release); the step sizes are not
    searched but derived from the data as implicit (Lipschitz) step sizes: ``lr_W = 4 N / lambda_max(X^T X)``
    and ``lr_alpha = N / (4 max_c sum_i (x_i . t_c)^2)``; ``W`` takes a gradient step with momentum 0.9 every
    epoch and ``alpha`` a plain gradient step every ``alpha_every`` epochs (the released schedule).
    Simplification: the paper's optional per-class refinement of the step sizes (its Eq. 21 variant) and
    validation-based epoch selection are not used: we keep the last iterate, so nothing is tuned on held-out data.

    Hyper-parameters with few labels: none searched (the method's point); fixed ``epochs``.

    Args:
        epochs (int): Full-batch iterations. Defaults to 300.
        alpha_every (int): Update ``alpha`` every this many iterations. Defaults to 10.
        init_scale (float): Scale of the ``alpha`` initialisation. Defaults to 250.
        seed (int): Unused (the fit is deterministic); kept for the common API.
    """

    def __init__(self, epochs: int = 300, alpha_every: int = 10, init_scale: float = 250., seed: int = 0):
        super().__init__(seed)
        self.epochs, self.alpha_every, self.init_scale = epochs, alpha_every, init_scale

    def _fit(self, x, y, val):
        n, text = len(x), self.zs_weights
        onehot = F.one_hot(y, self.num_classes).float()
        counts = onehot.sum(0).clamp(min=1)
        centroids = onehot.t() @ x / counts[:, None]
        text_scores = x @ text.t()  # (N, C)
        own = (onehot * text_scores).sum(0) / counts  # mean x . t_c over class c's samples
        lr_w = 4 * n / float(torch.linalg.eigvalsh(x.t().double() @ x.double()).max())
        lr_alpha = n / (4 * float(text_scores.pow(2).sum(0).max()))
        self.weight = torch.nn.Parameter(centroids.clone())
        self.bias = torch.nn.Parameter(torch.zeros(self.num_classes))
        self.alpha = torch.nn.Parameter(torch.full((self.num_classes,), self.init_scale * float(own.mean())))
        optim = torch.optim.SGD([self.weight, self.bias], lr=lr_w, momentum=0.9)
        self.history = []
        for it in range(self.epochs):
            loss = F.cross_entropy(self(x), y)
            optim.zero_grad()
            self.alpha.grad = None
            loss.backward()
            optim.step()
            if (it + 1) % self.alpha_every == 0:
                with torch.no_grad():
                    self.alpha -= lr_alpha * self.alpha.grad
            self.history.append(loss.item())

    def forward(self, x):
        return x @ self.weight.t() + self.bias + self.alpha * (x @ self.zs_weights.t())
