"""Evaluation figures written to files: confusion matrix (PNG + CSV) and reliability diagram (PNG).

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot): no global backend switch, no
display needed, nothing left open between evaluations. mmpretrain's ``ConfusionMatrix.plot`` goes through
pyplot, hence this small module.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .functional import ece, reliability_bins

__all__ = ['save_confusion_matrix', 'save_reliability_diagram', 'save_reliability_comparison']


def _save(fig: Figure, path: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path


def save_confusion_matrix(cm: np.ndarray, classes: Sequence[str], png_path: str,
                          csv_path: Optional[str] = None, title: str = '') -> str:
    """Write the ``(C, C)`` count matrix (rows: true, columns: predicted) as a CSV and an annotated heat map.

    Cells are coloured by the row-normalised rate (recall per true class) and show ``count`` and ``rate``.
    """
    cm = np.asarray(cm)
    classes = [str(c) for c in classes]
    if csv_path:
        os.makedirs(osp.dirname(osp.abspath(csv_path)), exist_ok=True)
        df = pd.DataFrame(cm, index=pd.Index(classes, name='true'), columns=classes)
        df.to_csv(csv_path)
    rows = cm.sum(1, keepdims=True)
    rate = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    size = 1.2 + 0.9 * len(classes)
    fig = Figure(figsize=(size + 1.2, size), layout='constrained')
    ax = fig.add_subplot()
    im = ax.imshow(rate, cmap='Blues', vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f'{cm[i, j]}\n{rate[i, j]:.0%}', ha='center', va='center', fontsize=9,
                    color='white' if rate[i, j] > 0.5 else 'black')
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
           xlabel='Predicted', ylabel='True', title=title or 'Confusion matrix (row-normalised colour)')
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label='fraction of true class')
    return _save(fig, png_path)


def _draw_reliability(ax, hist, probs: np.ndarray, y_true: np.ndarray, n_bins: int, title: str) -> None:
    count, conf, acc = reliability_bins(probs, y_true, n_bins)
    edges = np.linspace(0, 1, n_bins + 1)
    centers, width = (edges[:-1] + edges[1:]) / 2, 1. / n_bins
    filled = count > 0
    ax.bar(centers[filled], acc[filled], width=width, edgecolor='black', color='tab:blue', label='accuracy')
    # The gap is hatched, not filled, so it reads the same above (over-confident) and over (under-confident)
    # the accuracy bar; the bin's mean confidence is marked in red.
    ax.bar(centers[filled], np.abs(conf[filled] - acc[filled]), bottom=np.minimum(acc[filled], conf[filled]),
           width=width, fill=False, hatch='///', edgecolor='tab:red', lw=0.8, label='gap to confidence')
    ax.plot(centers[filled], conf[filled], '_', color='tab:red', ms=14, mew=2.5, label='mean confidence')
    ax.plot([0, 1], [0, 1], 'k--', lw=1, label='perfect calibration')
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel='accuracy',
           title=f'{title + " " if title else "Reliability "}(ECE = {ece(probs, y_true, n_bins):.3f}, '
                 f'N = {int(count.sum())})')
    ax.legend(loc='upper left', fontsize=8)
    hist.bar(centers, count, width=width, edgecolor='black', color='grey')
    hist.set(xlabel='confidence (max probability)', ylabel='count')


def save_reliability_diagram(probs: np.ndarray, y_true: np.ndarray, png_path: str, n_bins: int = 15,
                             title: str = '') -> str:
    """Top-label reliability diagram: accuracy per confidence bin against the diagonal, with the gap shaded
    and a histogram of confidences below; the title gives the ECE."""
    fig = Figure(figsize=(5, 6), layout='constrained')
    ax, hist = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=[3, 1]))
    _draw_reliability(ax, hist, probs, y_true, n_bins, title)
    return _save(fig, png_path)


def save_reliability_comparison(panels: Dict[str, np.ndarray], y_true: np.ndarray, png_path: str,
                                n_bins: int = 15) -> str:
    """Reliability diagrams side by side, one per ``{title: (N, C) probabilities}`` (e.g. before / after
    temperature scaling), same labels and bins."""
    fig = Figure(figsize=(5 * len(panels), 6), layout='constrained')
    axes = fig.subplots(2, len(panels), sharex=True, squeeze=False, gridspec_kw=dict(height_ratios=[3, 1]))
    for i, (title, probs) in enumerate(panels.items()):
        _draw_reliability(axes[0, i], axes[1, i], probs, y_true, n_bins, title)
    return _save(fig, png_path)
