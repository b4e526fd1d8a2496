"""tools/analysis/report.py: table numbers against pandas, paired test against hand differences, plots written."""
import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers import load_tool


@pytest.fixture
def results(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for method, base in (('A', 0.6), ('B', 0.5)):
        for shots in (1, 4):
            for seed in range(1, 6):
                acc = base + 0.02 * shots + rng.normal(0, 0.03)
                cm = [[3, 1], [0, 4]] if method == 'A' else [[2, 2], [1, 3]]
                rows.append(dict(cell_id=f'{method}{shots}{seed}', method=method, backbone='bb', dataset='d',
                                 shots=shots, seed=seed, balanced_accuracy=acc, wall_time_s=0.1,
                                 confusion_matrix=cm))
    path = tmp_path / 'results.jsonl'
    path.write_text('\n'.join(json.dumps(r) for r in rows) + '\n{"trunc')
    return path, pd.DataFrame(rows)


def test_report(results, tmp_path):
    tool = load_tool('tools/analysis/report.py')
    path, df = results
    report = tool.main([str(path), '--compare', 'A', 'B', '--bootstrap', '2000'])
    summary = pd.read_csv(tmp_path / 'summary.csv')
    ref = df.groupby(['method', 'shots']).balanced_accuracy.agg(['mean', 'std']).reset_index()
    merged = summary.merge(ref, on=['method', 'shots'], suffixes=('', '_ref'))
    assert len(merged) == 4
    # rows without the `rates` mark (fractions, as older sweeps wrote them) are reported in %
    np.testing.assert_allclose(merged['mean'], 100 * merged['mean_ref'])
    np.testing.assert_allclose(merged['std'], 100 * merged['std_ref'])
    assert ((merged.ci_low <= merged['mean']) & (merged['mean'] <= merged.ci_high)).all()
    text = open(report).read()
    r = merged[(merged.method == 'A') & (merged.shots == 4)].iloc[0]
    assert f'{r["mean"]:.1f} ± {r["std"]:.1f}' in text
    # Paired test: mean difference by hand; p-value of the exact Wilcoxon test on 5 all-positive pairs = 2/32.
    test = tool.paired_test(df, 'balanced_accuracy', 'A', 'B')
    for row in test.itertuples():
        a = df[(df.method == 'A') & (df.shots == row.shots)].sort_values('seed').balanced_accuracy.to_numpy()
        b = df[(df.method == 'B') & (df.shots == row.shots)].sort_values('seed').balanced_accuracy.to_numpy()
        assert row.mean_diff == pytest.approx((a - b).mean())
        if (a > b).all():
            assert row.wilcoxon_p == pytest.approx(2 / 32)
    assert (tmp_path / 'balanced_accuracy_vs_shots.png').stat().st_size > 1000
    assert (tmp_path / 'confusion_bb_A_4shot.png').is_file()


def test_bootstrap_ci_degenerate():
    tool = load_tool('tools/analysis/report.py')
    assert tool.bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    lo, hi = tool.bootstrap_ci([0.1, 0.2, 0.3, 0.4, 0.5], n=5000)
    assert 0.1 <= lo < 0.3 < hi <= 0.5


def test_report_keeps_the_latest_row_of_a_cell(results, tmp_path):
    """Two sweeps on one folder (or a re-run after a settings change) append a cell twice: the latest row counts,
    the paired test still pairs one value per seed."""
    tool = load_tool('tools/analysis/report.py')
    path, df = results
    again = df[df.method == 'A'].assign(balanced_accuracy=99., rates='percent')  # a newer sweep: marked, in %
    with open(path, 'a') as f:
        f.write('\n' + '\n'.join(json.dumps(r) for r in again.to_dict('records')) + '\n')
    tool.main([str(path), '--compare', 'A', 'B', '--bootstrap', '200'])
    summary = pd.read_csv(tmp_path / 'summary.csv')
    assert len(summary) == 4 and summary[summary.method == 'A']['mean'].tolist() == pytest.approx([99., 99.])
    assert (summary.n == 5).all()
