"""Post-hoc temperature scaling (Guo et al. 2017): one scalar ``T`` so that ``softmax(logits / T)`` is calibrated.

``T`` is fitted by minimising the NLL on held-out (validation) predictions; the argmax, hence accuracy, is
unchanged. Log-probabilities work as well as logits (they differ by a per-row constant that softmax ignores).
"""
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ['fit_temperature', 'apply_temperature', 'logits_from_probs', 'read_temperature']

ArrayLike = Union[np.ndarray, torch.Tensor]


def _as_tensor(x: ArrayLike, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach().cpu(), dtype=dtype)


def fit_temperature(logits: ArrayLike, labels: ArrayLike, max_iter: int = 100) -> float:
    """Temperature minimising the mean NLL of ``softmax(logits / T)`` (L-BFGS on ``log T``, so ``T > 0``).

    Args:
        logits (array): ``(N, C)`` logits (or log-probabilities).
        labels (array): ``(N,)`` class indices.
        max_iter (int): L-BFGS iterations. Defaults to 100.

    Returns:
        float: ``T`` (> 1 softens over-confident predictions, < 1 sharpens under-confident ones).
    """
    logits = _as_tensor(logits)
    labels = _as_tensor(labels, torch.long).reshape(-1)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f'logits must be (N, C) with N = len(labels) > 0, got {tuple(logits.shape)} and '
                         f'{len(labels)} labels.')
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def apply_temperature(logits: ArrayLike, temperature: float) -> np.ndarray:
    """``softmax(logits / T)`` as an ``(N, C)`` float64 numpy array."""
    return F.softmax(_as_tensor(logits) / float(temperature), dim=-1).numpy()


def logits_from_probs(probs: ArrayLike, eps: float = 1e-12) -> np.ndarray:
    """Log-probabilities (valid logits for temperature scaling) from probabilities, clipped at ``eps``."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), eps, None))


def read_temperature(spec: Union[str, float]) -> float:
    """``T`` from a number or from the JSON that ``tools/analysis/calibrate.py --out`` writes (``temperature``).

    Raises:
        FileNotFoundError / KeyError / ValueError: naming the file or value.
    """
    import json
    import os.path as osp
    if isinstance(spec, (int, float)):
        value = float(spec)
    else:
        try:
            value = float(spec)
        except ValueError:
            if not osp.isfile(spec):
                raise FileNotFoundError(f'--temperature {spec!r}: neither a number nor an existing file.') from None
            with open(spec) as f:
                data = json.load(f)
            if not isinstance(data, dict) or 'temperature' not in data:
                raise KeyError(f'{spec}: no "temperature" entry (expected the JSON of calibrate.py --out).')
            value = float(data['temperature'])
    if not value > 0:
        raise ValueError(f'temperature must be > 0, got {value} ({spec}).')
    return value
