"""Evaluation figures written to files: confusion matrix (PNG + CSV) and reliability diagram (PNG).

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot): no global backend switch, no
display needed, nothing left open between evaluations. mmpretrain's ``ConfusionMatrix.plot`` goes through
pyplot, hence this small module.
"""
import os
import os.path as osp
import re
import textwrap
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .functional import ece, reliability_bins

__all__ = ['class_labels', 'draw_confusion_matrix', 'save_confusion_matrix', 'save_reliability_diagram',
           'save_reliability_comparison', 'save_shot_curves']


def _save(fig: Figure, path: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)
    return path


def class_labels(classes: Sequence[str], max_len: int = 14) -> Tuple[List[str], str]:
    """Tick labels for ``classes`` and a key: names up to ``max_len`` characters are used as they are; longer
    ones become unique initialisms (``Well differentiated tubular adenocarcinoma`` -> ``WDTA``) listed in the
    returned key (``''`` when no name was shortened)."""
    classes = [str(c) for c in classes]
    if max(map(len, classes), default=0) <= max_len:
        return classes, ''
    labels = []
    for i, name in enumerate(classes):
        short = ''.join(w[0] for w in re.findall(r'[A-Za-z0-9]+', name)).upper()[:6] or f'C{i}'
        labels.append(short if short not in labels else f'{short}{i}')
    key = '; '.join(f'{s} = {c}' for s, c in zip(labels, classes))
    return labels, textwrap.fill('Key: ' + key, 90)


def draw_confusion_matrix(fig: Figure, cm: np.ndarray, classes: Sequence[str], title: str = '',
                          caption: str = '') -> None:
    """Annotated heat map of the ``(C, C)`` count matrix on ``fig`` (rows: true, columns: predicted).

    Cells are coloured by the row-normalised rate (recall per true class, colour bar 0-100 %) and show the
    integer count and the rate; the text is white on dark cells. Long class names are abbreviated with a key
    under the plot (:func:`class_labels`); ``caption`` is added under it.
    """
    cm = np.asarray(cm)
    labels, key = class_labels(classes)
    rows = cm.sum(1, keepdims=True)
    rate = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    ax = fig.add_subplot()
    im = ax.imshow(100 * rate, cmap='Blues', vmin=0, vmax=100)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f'{int(round(cm[i, j]))}\n{rate[i, j]:.0%}', ha='center', va='center', fontsize=9,
                    color='white' if rate[i, j] > 0.55 else 'black')
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=30 if max(map(len, labels)) > 6 else 0, ha='right'
                  if max(map(len, labels)) > 6 else 'center')
    ax.set_yticks(ticks, labels)
    ax.set(xlabel='Predicted', ylabel='True', title=title or 'Confusion matrix')
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label='% of the true class')
    text = '\n'.join(t for t in (key, caption) if t)
    if text:
        fig.text(0.01, 0.01, text, fontsize=7.5, ha='left', va='bottom', wrap=True)


def save_confusion_matrix(cm: np.ndarray, classes: Sequence[str], png_path: str,
                          csv_path: Optional[str] = None, title: str = '', caption: str = '') -> str:
    """Write the ``(C, C)`` count matrix as a CSV (full class names) and an annotated heat map
    (:func:`draw_confusion_matrix`)."""
    cm = np.asarray(cm)
    classes = [str(c) for c in classes]
    if csv_path:
        os.makedirs(osp.dirname(osp.abspath(csv_path)), exist_ok=True)
        df = pd.DataFrame(cm, index=pd.Index(classes, name='true'), columns=classes)
        df.to_csv(csv_path)
    labels, key = class_labels(classes)
    extra = (key.count('\n') + 1 if key else 0) + (caption.count('\n') + 1 if caption else 0)
    size = max(3.5, 1.4 + 0.9 * len(classes))
    fig = Figure(figsize=(size + 1.6, size + 0.25 * extra + 0.3), layout='constrained')
    if extra:
        fig.get_layout_engine().set(rect=(0, 0.05 * extra / (size / 4), 1, 1 - 0.05 * extra / (size / 4)))
    draw_confusion_matrix(fig, cm, classes, title, caption)
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


def save_shot_curves(summary: pd.DataFrame, metric: str, png_path: str, dataset: str = '',
                     reference: Sequence[str] = ('Zero-shot', 'zero-shot', 'ZeroShot')) -> str:
    """Few-shot curves: one panel per backbone, ``metric`` against shots per class (log2 axis).

    ``summary`` has columns ``backbone, method, shots, n, mean, std`` (rates in %, as the sweep writes them). Each method is a line
    of its mean over seeds with a +-1 std band; a method named in ``reference`` (zero-shot: it uses no labels)
    is a dashed horizontal line with its band instead. The legend sits outside the axes; the caption says what
    the lines and bands are.
    """
    from .functional import is_rate
    unit = ' %' if is_rate(metric) else ''
    backbones = list(summary.backbone.unique())
    shots = sorted(summary.shots.unique())
    fig = Figure(figsize=(5.2 * len(backbones) + 2.6, 4.4), layout='constrained')
    axes = np.atleast_1d(fig.subplots(1, len(backbones), squeeze=False)[0])
    seeds = sorted(summary.n.unique()) if 'n' in summary else []
    for ax, backbone in zip(axes, backbones):
        rows = summary[summary.backbone == backbone]
        for i, (method, m) in enumerate(rows.groupby('method', sort=False)):
            m = m.sort_values('shots')
            mean, std = m['mean'].to_numpy(), m['std'].to_numpy()
            if method in reference:
                level, band = float(mean.mean()), float(std.mean())
                ax.axhline(level, color='black', ls='--', lw=1.4, label=f'{method} ({level:.1f}{unit})', zorder=3)
                ax.axhspan(level - band, level + band, color='grey', alpha=0.12, lw=0)
                continue
            line, = ax.plot(m.shots, mean, marker='o', ms=4, lw=1.6, label=method, color=f'C{i % 10}')
            ax.fill_between(m.shots, mean - std, mean + std, alpha=0.12, color=line.get_color(), lw=0)
        ax.set_xscale('log', base=2)
        ax.set_xticks(shots, [str(k) for k in shots])
        ax.minorticks_off()
        name = metric.replace('_', ' ')
        ax.set(xlabel='shots per class', ylabel=f'{name} (%)' if unit else name,
               title=' | '.join(t for t in (dataset, name, backbone) if t))
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='outside right upper', fontsize=8, frameon=False)
    n = f'{seeds[0]}' if len(seeds) == 1 else f'{min(seeds)}-{max(seeds)}' if seeds else 'the'
    fig.text(0.01, 0.005, f'Lines: mean over {n} seeds; bands: +-1 std over seeds; dashed: zero-shot (no labels).',
             fontsize=8, ha='left', va='bottom')
    fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))
    return _save(fig, png_path)
