"""Results report of a sweep: Markdown table (mean ± std, bootstrap 95% CI), paired test, PNG plots.

    python tools/analysis/report.py work_dirs/sweeps/demo_adapters/results.jsonl \
        [--metric balanced_accuracy] [--compare CLAP ZS-LP] [--out-dir DIR]

Writes ``report.md``, ``<metric>_vs_shots.png`` (one curve per method: mean over seeds with a ±std band) and
``confusion_<method>_<shots>shot.png`` (summed over seeds) for the largest shot count, next to the results file.
"""
import argparse
import json
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import pandas as pd


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Markdown table + plots from a sweep results file')
    parser.add_argument('results', help='results.jsonl (or .csv) written by tools/sweep.py')
    parser.add_argument('--metric', default='balanced_accuracy', help='metric of the table and plots')
    parser.add_argument('--compare', nargs=2, metavar=('A', 'B'), help='paired test between two methods')
    parser.add_argument('--out-dir', help='defaults to the results file folder')
    parser.add_argument('--bootstrap', type=int, default=10000, help='bootstrap resamples of the seed means')
    return parser.parse_args(argv)


def load_results(path: str) -> pd.DataFrame:
    if path.endswith('.csv'):
        return pd.read_csv(path)
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # truncated line of a killed run
                continue
    if not rows:
        raise ValueError(f'{path} holds no results.')
    return pd.DataFrame(rows)


def bootstrap_ci(values: Sequence[float], n: int = 10000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap CI of the mean over seeds (resampling seeds with replacement)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float(values.mean())
    means = np.random.default_rng(seed).choice(values, (n, len(values)), replace=True).mean(1)
    lo, hi = np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(lo), float(hi)


def summary_table(df: pd.DataFrame, metric: str, n_boot: int = 10000) -> pd.DataFrame:
    """One row per (backbone, method, shots): n seeds, mean, std (ddof=1), bootstrap 95% CI."""
    if metric not in df:
        raise KeyError(f'Metric {metric!r} not in the results; have {sorted(df.columns)}.')
    out = []
    for (backbone, method, shots), g in df.groupby(['backbone', 'method', 'shots'], sort=False):
        v = g[metric].astype(float).to_numpy()
        lo, hi = bootstrap_ci(v, n_boot)
        out.append(dict(backbone=backbone, method=method, shots=int(shots), n=len(v), mean=v.mean(),
                        std=v.std(ddof=1) if len(v) > 1 else 0., ci_low=lo, ci_high=hi))
    return pd.DataFrame(out)


def paired_test(df: pd.DataFrame, metric: str, a: str, b: str) -> pd.DataFrame:
    """Per shot count: paired differences A - B over seeds, Wilcoxon signed-rank and paired t-test p-values."""
    from scipy import stats
    keys = ['backbone', 'shots', 'seed']
    pa = df[df.method == a].set_index(keys)[metric]
    pb = df[df.method == b].set_index(keys)[metric]
    joined = pd.concat([pa.rename('a'), pb.rename('b')], axis=1, join='inner').reset_index()
    if joined.empty:
        raise ValueError(f'No (backbone, shots, seed) cells shared by methods {a!r} and {b!r}.')
    out = []
    for (backbone, shots), g in joined.groupby(['backbone', 'shots']):
        d = (g.a - g.b).to_numpy(float)
        nonzero = np.any(d != 0)
        out.append(dict(backbone=backbone, shots=int(shots), n=len(d), mean_diff=d.mean(),
                        wilcoxon_p=float(stats.wilcoxon(d).pvalue) if nonzero and len(d) > 1 else 1.,
                        ttest_p=float(stats.ttest_rel(g.a, g.b).pvalue) if nonzero and len(d) > 1 else 1.))
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame, metric: str, scale: float = 100.) -> str:
    """Methods x shots table of ``mean ± std [CI]`` (in %, for metrics in [0, 1])."""
    lines = []
    for backbone, s in summary.groupby('backbone', sort=False):
        shots = sorted(s.shots.unique())
        lines += [f'### {backbone}: {metric} (mean ± std over seeds, [bootstrap 95% CI])', '',
                  '| method | ' + ' | '.join(f'{k}-shot' for k in shots) + ' |',
                  '|---|' + '---|' * len(shots)]
        for method, m in s.groupby('method', sort=False):
            cells = []
            for k in shots:
                r = m[m.shots == k]
                if r.empty:
                    cells.append('–')
                    continue
                r = r.iloc[0]
                cells.append(f'{scale * r["mean"]:.1f} ± {scale * r["std"]:.1f} '
                             f'[{scale * r.ci_low:.1f}, {scale * r.ci_high:.1f}]')
            lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def plot_curves(summary: pd.DataFrame, metric: str, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    backbones = list(summary.backbone.unique())
    fig, axes = plt.subplots(1, len(backbones), figsize=(6 * len(backbones), 4.5), squeeze=False)
    for ax, backbone in zip(axes[0], backbones):
        for method, m in summary[summary.backbone == backbone].groupby('method', sort=False):
            m = m.sort_values('shots')
            ax.plot(m.shots, m['mean'], marker='o', label=method)
            ax.fill_between(m.shots, m['mean'] - m['std'], m['mean'] + m['std'], alpha=0.15)
        ax.set_xscale('log', base=2)
        ax.set_xticks(sorted(summary.shots.unique()), [str(k) for k in sorted(summary.shots.unique())])
        ax.set(xlabel='shots per class', ylabel=metric, title=backbone)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusions(df: pd.DataFrame, out_dir: str, shots: Optional[int] = None) -> list:
    """Confusion matrices summed over seeds, one PNG per (backbone, method), at ``shots`` (default: the max)."""
    if 'confusion_matrix' not in df:
        return []
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    shots = shots or int(df.shots.max())
    paths = []
    for (backbone, method), g in df[df.shots == shots].groupby(['backbone', 'method'], sort=False):
        mats = [np.asarray(m) for m in g.confusion_matrix if isinstance(m, list)]
        if not mats:
            continue
        cm = np.sum(mats, 0)
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap='Blues', vmin=0, vmax=1)
        for i in range(cm.shape[0]):
            for j in range(cm.shape[1]):
                ax.text(j, i, int(cm[i, j]), ha='center', va='center', fontsize=8)
        ax.set(xlabel='predicted', ylabel='true', title=f'{method} ({backbone}, {shots}-shot, {len(mats)} seeds)')
        fig.tight_layout()
        safe = ''.join(ch if ch.isalnum() or ch in '-_.+' else '-' for ch in f'{backbone}_{method}')
        paths.append(osp.join(out_dir, f'confusion_{safe}_{shots}shot.png'))
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def main(argv=None):
    args = parse_args(argv)
    df = load_results(args.results)
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.results))
    os.makedirs(out_dir, exist_ok=True)
    summary = summary_table(df, args.metric, args.bootstrap)
    text = [f'# Few-shot results ({args.results})', '', markdown(summary, args.metric)]
    if 'wall_time_s' in df:
        t = df.groupby('method', sort=False).wall_time_s.agg(['mean', 'sum'])
        text += ['### Wall time per cell (s)', '', '| method | mean | total |', '|---|---|---|']
        text += [f'| {m} | {r["mean"]:.3f} | {r["sum"]:.1f} |' for m, r in t.iterrows()] + ['']
    if args.compare:
        a, b = args.compare
        test = paired_test(df, args.metric, a, b)
        text += [f'### Paired test over seeds: {a} vs {b} ({args.metric})', '',
                 '| backbone | shots | n | mean diff (A − B) | Wilcoxon p | paired t p |', '|---|---|---|---|---|---|']
        text += [f'| {r.backbone} | {r.shots} | {r.n} | {100 * r.mean_diff:+.2f} | {r.wilcoxon_p:.3g} | '
                 f'{r.ttest_p:.3g} |' for r in test.itertuples()] + ['']
    curve = osp.join(out_dir, f'{args.metric}_vs_shots.png')
    plot_curves(summary, args.metric, curve)
    confusions = plot_confusions(df, out_dir)
    text += ['', f'![{args.metric} vs shots]({osp.basename(curve)})', '']
    text += [f'![confusion]({osp.basename(p)})' for p in confusions]
    report = osp.join(out_dir, 'report.md')
    with open(report, 'w') as f:
        f.write('\n'.join(text) + '\n')
    summary.to_csv(osp.join(out_dir, 'summary.csv'), index=False)
    print('\n'.join(text))
    print(f'Wrote {report}, {curve} and {len(confusions)} confusion matrices.')
    return report


if __name__ == '__main__':
    main()
