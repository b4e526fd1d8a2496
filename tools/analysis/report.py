"""Results report of a sweep: Markdown table (mean ± std, bootstrap 95% CI), paired test, PNG plots.

    python tools/analysis/report.py work_dirs/sweeps/demo_adapters/results.jsonl \
        [--metric balanced_accuracy] [--compare CLAP ZS-LP] [--out-dir DIR]

Writes ``report.md``, ``<metric>_vs_shots.png`` (one curve per method: mean over seeds with a ±std band,
zero-shot as a dashed reference line, in %) and ``confusion_<method>_<shots>shot.png`` (summed over seeds, with
class names) for the largest shot count, next to the results file. A cell run twice (settings changed, or two
sweeps on one folder) counts once: its latest row.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import numpy as np
import pandas as pd

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a source checkout


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Markdown table + plots from a sweep results file')
    parser.add_argument('results', help='results.jsonl (or .csv) written by tools/sweep.py')
    parser.add_argument('--metric', default='balanced_accuracy', help='metric of the table and plots')
    parser.add_argument('--compare', nargs=2, metavar=('A', 'B'), help='paired test between two methods')
    parser.add_argument('--out-dir', help='defaults to the results file folder')
    parser.add_argument('--bootstrap', type=int, default=10000, help='bootstrap resamples of the seed means')
    return parser.parse_args(argv)


def load_results(path: str) -> pd.DataFrame:
    """Rows of a sweep's ``results.jsonl``/``.csv``, latest per cell, rates in % (older fraction rows converted)."""
    from mmmedfm.evaluation.functional import rows_in_percent
    if path.endswith('.csv'):
        return latest_per_cell(pd.DataFrame(rows_in_percent(pd.read_csv(path).to_dict('records'))))
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # truncated line of a killed run
                continue
    if not rows:
        raise ValueError(f'{path} holds no results.')
    return latest_per_cell(pd.DataFrame(rows_in_percent(rows)))


def latest_per_cell(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row of every cell (``cell_id``, else backbone/method/shots/seed): re-runs supersede."""
    keys = ['cell_id'] if 'cell_id' in df else [k for k in ('backbone', 'dataset', 'method', 'shots', 'seed')
                                                if k in df]
    out = df.drop_duplicates(keys, keep='last').reset_index(drop=True)
    if len(out) < len(df):
        print(f'{len(df) - len(out)} superseded row(s) ignored (the same cell ran again; latest row kept).')
    return out


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


def markdown(summary: pd.DataFrame, metric: str) -> str:
    """Methods x shots table of ``mean ± std [CI]`` (rates in %, as in the results)."""
    from mmmedfm.evaluation.functional import is_rate
    digits = 1 if is_rate(metric) else 3  # % vs natural-scale scores (kappa, AUROC, ECE...)
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
                cells.append(f'{r["mean"]:.{digits}f} ± {r["std"]:.{digits}f} '
                             f'[{r.ci_low:.{digits}f}, {r.ci_high:.{digits}f}]')
            lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def plot_curves(summary: pd.DataFrame, metric: str, path: str, dataset: str = '') -> None:
    from mmmedfm.evaluation.plots import save_shot_curves
    save_shot_curves(summary, metric, path, dataset)


def plot_confusions(df: pd.DataFrame, out_dir: str, shots: Optional[int] = None) -> list:
    """Confusion matrices summed over seeds, one PNG per (backbone, method), at ``shots`` (default: the max)."""
    if 'confusion_matrix' not in df:
        return []
    from mmmedfm.evaluation.plots import save_confusion_matrix
    shots = shots or int(df.shots.max())
    paths = []
    for (backbone, method), g in df[df.shots == shots].groupby(['backbone', 'method'], sort=False):
        mats = [np.asarray(m) for m in g.confusion_matrix if isinstance(m, list)]
        if not mats:
            continue
        cm = np.sum(mats, 0)
        classes = next((c for c in g.get('classes', []) if isinstance(c, list) and len(c) == len(cm)),
                       [str(i) for i in range(len(cm))])
        dataset = g.dataset.iloc[0] if 'dataset' in g else ''
        safe = ''.join(ch if ch.isalnum() or ch in '-_.+' else '-' for ch in f'{backbone}_{method}')
        paths.append(osp.join(out_dir, f'confusion_{safe}_{shots}shot.png'))
        save_confusion_matrix(cm, classes, paths[-1], title=f'{method}, {shots}-shot\n{dataset} | {backbone}',
                              caption=f'Counts summed over {len(mats)} seeds; colour: % of the true class.')
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
        text += [f'| {r.backbone} | {r.shots} | {r.n} | {r.mean_diff:+.2f} | {r.wilcoxon_p:.3g} | '
                 f'{r.ttest_p:.3g} |' for r in test.itertuples()] + ['']
    curve = osp.join(out_dir, f'{args.metric}_vs_shots.png')
    dataset = ', '.join(map(str, df.dataset.unique())) if 'dataset' in df else ''
    plot_curves(summary, args.metric, curve, dataset)
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
