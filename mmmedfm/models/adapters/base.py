"""Common fit/predict API of the black-box adapters (cached, frozen, L2-normalised image features)."""
import math
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

SupportLike = object  # anything with ``.features``/``.labels`` (e.g. ``FeatureSet``) or a ``(features, labels)`` pair


def as_xy(support: SupportLike) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(features (N, D) float32, labels (N,) long)`` from a ``FeatureSet``-like object or a pair."""
    if hasattr(support, 'features') and hasattr(support, 'labels'):
        x, y = support.features, support.labels
    else:
        x, y = support
    x, y = torch.as_tensor(x).float(), torch.as_tensor(y).long()
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f'Expected features (N, D) and labels (N,), got {tuple(x.shape)} and {tuple(y.shape)}.')
    return x, y


def holdout_split(labels: torch.Tensor, seed: int, val_fraction: float = 0.25
                  ) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """Split a support set into few-shot train/val indices for hyper-parameter search (never the test split).

    Each class keeps ``max(1, round(k * val_fraction))`` of its ``k`` shots for validation. Returns ``None`` when
    a class has fewer than 2 shots (nothing can be held out: callers use their fixed defaults). Written by hand
    because sklearn's ``train_test_split(stratify=...)`` sizes the validation set over all classes and may leave a
    class with no validation shot at k = 2-3; here every class keeps at least one.
    """
    g = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().flatten()
        if len(idx) < 2:
            return None
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_val = max(1, round(len(idx) * val_fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


def kfold_splits(labels: torch.Tensor, seed: int, folds: int = 4) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Stratified ``folds``-fold splits ``[(train, val), ...]`` of a support set (each class's shots shuffled with
    ``seed``, shot ``i`` validated in fold ``i % folds``); fewer folds when a class has fewer shots; ``[]`` at
    1 shot per class.

    sklearn's ``StratifiedKFold(shuffle=True)`` makes the same kind of partition with another permutation; it is not
    used so that the adapters' published comparison numbers stay reproducible: at k = 4 the fold draw alone moves
    LP++'s 3-seed mean by ~4 points (74.2 here vs 70.5 with ``StratifiedKFold``, same data and seeds)."""
    counts = torch.bincount(labels)
    folds = min(folds, int(counts[counts > 0].min()))
    if folds < 2:
        return []
    g = torch.Generator().manual_seed(seed)
    fold_of = torch.empty(len(labels), dtype=torch.long)
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().flatten()
        fold_of[idx[torch.randperm(len(idx), generator=g)]] = torch.arange(len(idx)) % folds
    return [((fold_of != f).nonzero().flatten(), (fold_of == f).nonzero().flatten()) for f in range(folds)]


def balanced_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean per-class recall (the search criterion; ties are broken by candidate order). Equals sklearn's
    ``balanced_accuracy_score``; kept in torch because searches call it on device tensors in their inner loop."""
    pred = logits.argmax(-1)
    return float(torch.stack([(pred[labels == c] == c).float().mean() for c in labels.unique()]).mean())


def train_epochs(params: Sequence[nn.Parameter], loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, lr: float,
                 optimizer: str = 'SGD', momentum: float = 0.9, weight_decay: float = 0.,
                 cosine: bool = False, eps: float = 1e-8, warmup_epochs: int = 0,
                 warmup_lr: float = 1e-5, dassl: bool = False) -> List[float]:
    """Mini-batch training on cached features; returns the mean loss of every epoch.

    Schedule: ``warmup_epochs`` epochs at the constant ``warmup_lr`` (Dassl's ``WARMUP_TYPE: constant``, used by
    CoOp and CLAP), then ``lr`` with optional cosine decay to 0 over the remaining iterations. ``epochs`` counts
    the warm-up epochs too (Dassl's ``MAX_EPOCH``). ``dassl=True`` follows Dassl's trainer exactly instead: the
    cosine is set once per epoch, ``0.5 lr (1 + cos(pi (epoch - warmup_epochs) / epochs))``, and the last
    incomplete batch is dropped when the set holds at least one full batch (its ``drop_last``). Shuffling uses the
    global torch RNG: adapters call this inside ``BaseAdapter.fit``'s forked, seeded RNG, so a fit is
    deterministic and leaves the caller's RNG untouched.
    """
    params = [p for p in params if p.requires_grad]
    if optimizer == 'SGD':
        optim = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer in ('Adam', 'AdamW'):
        optim = getattr(torch.optim, optimizer)(params, lr=lr, weight_decay=weight_decay, eps=eps)
    else:
        raise ValueError(f"Unknown optimizer {optimizer!r}; use 'SGD', 'Adam' or 'AdamW'.")
    steps_per_epoch = math.ceil(len(x) / batch_size)
    warmup_epochs = min(warmup_epochs, epochs)
    main_steps, step = max(1, (epochs - warmup_epochs) * steps_per_epoch), 0
    stop = len(x) - len(x) % batch_size if dassl and len(x) >= batch_size else len(x)
    history = []
    for epoch in range(epochs):
        order, total = torch.randperm(len(x)), 0.
        for i in range(0, stop, batch_size):
            if epoch < warmup_epochs:
                rate = warmup_lr
            elif dassl:
                rate = lr * (0.5 * (1 + math.cos(math.pi * (epoch - warmup_epochs) / epochs)) if cosine else 1.)
            else:
                rate = lr * (0.5 * (1 + math.cos(math.pi * step / main_steps)) if cosine else 1.)
                step += 1
            for group in optim.param_groups:
                group['lr'] = rate
            idx = order[i:i + batch_size]
            loss = loss_fn(x[idx], y[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
            total += loss.item() * len(idx)
        history.append(total / stop)
    return history


class BaseAdapter(nn.Module):
    """Base of the black-box adapters: ``fit`` on a few-shot support set, ``predict_proba`` on any features.

    Subclasses implement ``_fit(x, y, val)`` and ``forward(x) -> logits``. ``fit`` stores the zero-shot class
    prototypes as the buffer ``zs_weights`` ``(C, D)`` (re-normalised), the raw text anchors ``text_anchors``
    ``(C, D)`` and the frozen ``logit_scale``, and runs ``_fit`` inside a forked torch RNG seeded with ``seed``:
    the same seed gives the same numbers and the caller's RNG is untouched. Fitted tensors are buffers or
    parameters, so ``state_dict()`` and ``.to()`` carry them.

    Args:
        seed (int): Seed of the fit (initialisation, shuffling, held-out split). Defaults to 0.
    """

    #: Bump in a subclass when a code change alters its results for unchanged settings (sweeps re-run its cells).
    recipe_version = 1

    def __init__(self, seed: int = 0):
        super().__init__()
        self.seed = seed
        self.history: List[float] = []
        self.views: Optional[torch.Tensor] = None

    def fit(self, support: SupportLike, zs_weights: torch.Tensor, logit_scale: float,
            class_names: Optional[Sequence[str]] = None, val: Optional[SupportLike] = None,
            text_anchors: Optional[torch.Tensor] = None, views: Optional[torch.Tensor] = None) -> 'BaseAdapter':
        """Fit on ``support`` (``FeatureSet``-like or ``(features (N, D), labels (N,))``).

        Args:
            zs_weights: ``(C, D)`` zero-shot class prototypes. logit_scale: CLIP's ``logit_scale.exp()``.
            class_names: Class names (prompt words) in label order (only prompt learners use them).
            val: Optional few-shot validation set for hyper-parameter search; when ``None`` methods that search
                hold out part of ``support`` (:func:`holdout_split`). Never pass the test split.
            text_anchors: Optional ``(C, D)`` raw (un-normalised) template-mean text embeddings; CLAP and ZS-LP
                start their prototypes there, as the CLAP code does. Defaults to ``zs_weights``.
            views: Optional ``(V, N, D)`` features of ``V`` augmented views of the support images (row ``i`` of
                every view is support sample ``i``): Tip-Adapter averages them into its cache keys, the linear
                probes train on all views (both as their official code does).
        """
        x, y = as_xy(support)
        zs = F.normalize(torch.as_tensor(zs_weights).float(), dim=-1)
        if zs.shape[1] != x.shape[1]:
            raise ValueError(f'zs_weights has dim {zs.shape[1]} but the features have dim {x.shape[1]}.')
        if int(y.max()) >= len(zs):
            raise ValueError(f'Label {int(y.max())} out of range for {len(zs)} zero-shot prototypes.')
        anchors = zs if text_anchors is None else torch.as_tensor(text_anchors).float()
        if anchors.shape != zs.shape:
            raise ValueError(f'text_anchors has shape {tuple(anchors.shape)}, expected {tuple(zs.shape)}.')
        if views is not None:
            views = torch.as_tensor(views).float()
            if views.ndim != 3 or views.shape[1:] != x.shape:
                raise ValueError(f'views must be (V, {len(x)}, {x.shape[1]}), got {tuple(views.shape)}.')
        self.views = views
        self.num_classes = len(zs)
        self.register_buffer('zs_weights', zs.to(x.device))
        self.register_buffer('text_anchors', anchors.to(x.device))
        self.logit_scale = float(logit_scale)
        self.class_names = list(class_names) if class_names is not None else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.train()
            self._fit(x, y, as_xy(val) if val is not None else None)
        self.views = None  # the fit's inputs, not fitted state
        self.eval()
        return self

    def training_set(self, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``, or every augmented view stacked (``(V * N, D)``, labels repeated) when ``views`` is given."""
        if self.views is None:
            return x, y
        return self.views.reshape(-1, x.shape[1]), y.repeat(len(self.views))

    def _fit(self, x: torch.Tensor, y: torch.Tensor, val: Optional[Tuple[torch.Tensor, torch.Tensor]]) -> None:
        raise NotImplementedError

    def zero_shot_logits(self, x: torch.Tensor) -> torch.Tensor:
        """``logit_scale * x @ zs_weights^T`` ``(N, C)``."""
        return self.logit_scale * x @ self.zs_weights.t()

    def search_split(self, x, y, val):
        """``(x_tr, y_tr, x_val, y_val)`` for a hyper-parameter search, or ``None`` (fixed defaults)."""
        if val is not None:
            return x, y, val[0], val[1]
        split = holdout_split(y, self.seed, getattr(self, 'val_fraction', 0.25))
        if split is None:
            return None
        tr, va = split
        return x[tr], y[tr], x[va], y[va]

    @torch.no_grad()
    def predict_proba(self, features: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """``(N, C)`` class probabilities for ``(N, D)`` features."""
        features = torch.as_tensor(features).float()
        self.eval()
        return torch.cat([self(features[i:i + batch_size]).float().softmax(-1)
                          for i in range(0, len(features), batch_size)])
