"""tools/sweep.py on synthetic cached features: cells, files, resume, determinism, train-cell wiring."""
import json
import os.path as osp

import pandas as pd
import pytest
import torch

from mmmedfm.utils.synthetic_features import make_synthetic_features
from tests.helpers import load_tool, one_torch_thread  # noqa: F401 (fixture)

SWEEP = """
backbones = [dict(name='synthetic', config='unused.py')]
dataset = 'synthetic'
methods = [dict(name='Zero-shot', adapter=dict(type='ZeroShotAdapter')),
           dict(name='LP', adapter=dict(type='LinearProbe', C_grid=[1., 100.])),
           dict(name='Tip-Adapter', adapter=dict(type='TipAdapter'))]
shots = [1, 2, 4]
seeds = [1, 2]
num_threads = 1
"""


@pytest.fixture
def sweep_tool(monkeypatch):
    tool = load_tool('tools/sweep.py')
    calls = []

    def fake_load_features(backbone, cache_dir):
        calls.append(backbone['name'])
        pool, text = make_synthetic_features(per_class=10, seed=0)
        test, _ = make_synthetic_features(per_class=15, seed=1, split='test')
        return pool, test, text, 100., tool.Config(dict(model=dict(foundation_model=None)))

    monkeypatch.setattr(tool, 'load_features', fake_load_features)
    monkeypatch.setattr(tool, 'backbone_config', lambda backbone: tool.Config(dict(model=dict(foundation_model=None))))
    tool.calls = calls
    n = torch.get_num_threads()
    yield tool
    torch.set_num_threads(n)


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_sweep_runs_resumes_and_is_deterministic(sweep_tool, tmp_path):
    cfg = tmp_path / 'sweep.py'
    cfg.write_text(SWEEP)
    out = tmp_path / 'out'
    results = sweep_tool.main([str(cfg), '--out-dir', str(out), '--no-progress'])
    rows = read(results)
    assert len(rows) == 3 * 3 * 2 and sweep_tool.calls == ['synthetic']
    for key in ('method', 'backbone', 'dataset', 'shots', 'seed', 'accuracy', 'balanced_accuracy', 'macro_f1',
                'wall_time_s', 'confusion_matrix'):
        assert key in rows[0]
    # Metrics against an independent computation from the stored confusion matrix.
    for r in rows:
        cm = torch.tensor(r['confusion_matrix'], dtype=torch.float64)
        assert r['rates'] == 'percent'  # like the training logs
        assert r['accuracy'] == pytest.approx(100 * float(cm.trace() / cm.sum()))
        assert r['balanced_accuracy'] == pytest.approx(100 * float((cm.diag() / cm.sum(1)).mean()))
        assert cm.sum() == 60 and r['num_support'] == 4 * r['shots']
    cell = out / 'cells' / 'synthetic__LP__2shot__seed1'
    assert {p.name for p in cell.iterdir()} >= {'config.py', 'support.csv', 'env.json'}
    assert 'torch' in json.loads((cell / 'env.json').read_text())
    # Nested supports: the 2-shot set of a seed is inside its 4-shot set.
    s2 = set(pd.read_csv(cell / 'support.csv').image_id)
    s4 = set(pd.read_csv(out / 'cells' / 'synthetic__LP__4shot__seed1' / 'support.csv').image_id)
    assert len(s2) == 8 and s2 < s4
    assert pd.read_csv(out / 'results.csv').shape[0] == 18

    # Resume: nothing left to run, the feature loader is not even called again.
    sweep_tool.main([str(cfg), '--out-dir', str(out), '--no-progress'])
    assert len(read(results)) == 18 and sweep_tool.calls == ['synthetic']
    # Drop two finished cells (and leave a truncated line, as a killed run would): only those rerun.
    lines = open(results).read().splitlines()
    with open(results, 'w') as f:
        f.write('\n'.join(lines[:-2]) + '\n{"cell_id": "trunc')
    sweep_tool.main([str(cfg), '--out-dir', str(out), '--no-progress'])
    rerun = [r for r in read_valid(results)]
    assert sorted(r['cell_id'] for r in rerun) == sorted(r['cell_id'] for r in rows)
    # Same seed -> same numbers (the re-run cells reproduce the original ones exactly).
    by_id = {r['cell_id']: r for r in rows}
    for r in rerun[-2:]:
        assert r['balanced_accuracy'] == by_id[r['cell_id']]['balanced_accuracy']
        assert r['confusion_matrix'] == by_id[r['cell_id']]['confusion_matrix']


def read_valid(path):
    out = []
    for line in open(path):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


@pytest.mark.e2e
def test_train_cell_wiring(monkeypatch, tmp_path, sicapv2_root):
    tool = load_tool('tools/sweep.py')
    seen = {}

    def fake_run(cmd, stdout, stderr, env, cwd):
        seen['cmd'], seen['env'] = cmd, env
        work_dir = cmd[cmd.index('--work-dir') + 1]
        vis = osp.join(work_dir, '20260101_000000', 'vis_data')
        import os
        os.makedirs(vis)
        with open(osp.join(vis, 'scalars.json'), 'w') as f:
            f.write(json.dumps({'loss': 1.0, 'lr': 0.001, 'epoch': 1, 'iter': 2, 'step': 2}) + '\n')
            f.write(json.dumps({'balanced_accuracy': 62.5, 'step': 2}) + '\n')
        return type('P', (), {'returncode': 0})()

    tool.env_info()  # cached now: platform.platform() runs a real subprocess, the fake below is for training
    monkeypatch.setattr(tool.subprocess, 'run', fake_run)
    backbone = dict(name='demo', config='configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py',
                    cfg_options={'train_dataloader.dataset.data_root': sicapv2_root})
    method = dict(name='LoRA', train_config='configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py')
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    cell = tmp_path / 'cell with space'
    backbone['cfg_options']['work_dir'] = str(tmp_path / 'a dir with spaces')
    row = tool.run_train_cell(method, backbone, 2, 3, str(cell), gpu=1)
    assert row['balanced_accuracy'] == pytest.approx(62.5) and row['num_support'] == 8
    # The run trains from the cell's merged config: shots, seed and paths reach it verbatim (spaces kept).
    assert seen['cmd'][2] == str(cell / 'config.py') and '--cfg-options' not in seen['cmd']
    merged = tool.Config.fromfile(seen['cmd'][2])
    assert merged.train_dataloader.dataset.num_shots == 2 and merged.randomness.seed == 3
    assert merged.work_dir == str(tmp_path / 'a dir with spaces')
    assert merged.train_dataloader.dataset.data_root == sicapv2_root
    assert seen['env']['CUDA_VISIBLE_DEVICES'] == '1'
    assert row['classes'] == ['NC', 'G3', 'G4', 'G5']
    support = pd.read_csv(cell / 'support.csv')
    assert support.label.value_counts().to_dict() == {0: 2, 1: 2, 2: 2, 3: 2}


def test_changed_settings_rerun_and_supersede(sweep_tool, tmp_path, capsys):
    cfg = tmp_path / 'sweep.py'
    cfg.write_text(SWEEP)
    out = tmp_path / 'out'
    results = sweep_tool.main([str(cfg), '--out-dir', str(out), '--no-progress'])
    first = {r['cell_id']: r for r in read(results)}
    capsys.readouterr()
    # Editing one method's hyper-parameters re-runs exactly that method's cells; the others are kept.
    cfg.write_text(SWEEP.replace("C_grid=[1., 100.]", "C=0.01"))
    sweep_tool.main([str(cfg), '--out-dir', str(out), '--no-progress'])
    printed = capsys.readouterr().out
    assert '6 cells to run (6 of them re-run because their settings changed), 12 already' in printed
    assert 'python tools/analysis/report.py' in printed and 'balanced_accuracy' in printed
    rows = read(results)
    assert len(rows) == 24 and {r['method'] for r in rows[18:]} == {'LP'}
    assert all(r['settings'] != first[r['cell_id']]['settings'] for r in rows[18:])
    # results.csv holds the latest row of every cell, once.
    csv = pd.read_csv(out / 'results.csv')
    assert len(csv) == 18 and set(csv[csv.method == 'LP'].settings) == {rows[-1]['settings']}
    # The report counts each cell once (the --compare pairing would otherwise fail on duplicates).
    report = load_tool('tools/analysis/report.py')
    df = report.load_results(results)
    assert len(df) == 18
    assert len(report.paired_test(df, 'balanced_accuracy', 'LP', 'Tip-Adapter')) == 3


def test_settings_hash_follows_code_defaults_recipe_and_train_config(sweep_tool, tmp_path, monkeypatch):
    from mmmedfm.models.adapters.tip_adapter import TipAdapter
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    backbone, tip = dict(name='b', config='unused.py'), dict(name='Tip', adapter=dict(type='TipAdapter'))
    before = sweep_tool.settings_hash(backbone, tip)
    assert sweep_tool.settings_hash(backbone, tip) == before  # deterministic
    # A changed constructor default or a bumped recipe version re-runs the cells (the sweep config is unchanged).
    init = TipAdapter.__init__
    monkeypatch.setattr(TipAdapter, '__init__', lambda self, seed=0, **kw: init(self, seed=seed, **kw))
    changed_default = sweep_tool.settings_hash(backbone, tip)
    monkeypatch.setattr(TipAdapter, '__init__', init)
    assert changed_default != before and sweep_tool.settings_hash(backbone, tip) == before
    monkeypatch.setattr(TipAdapter, 'recipe_version', TipAdapter.recipe_version + 1)
    assert sweep_tool.settings_hash(backbone, tip) != before
    # A training cell: an edit in its config's _base_ changes the hash, though the method entry does not change.
    (tmp_path / 'base.py').write_text('optim_wrapper = dict(optimizer=dict(lr=1e-3))\n')
    (tmp_path / 'cell.py').write_text("_base_ = ['base.py']\n")
    cell = dict(name='LoRA', train_config=str(tmp_path / 'cell.py'))
    first = sweep_tool.settings_hash(backbone, cell)
    (tmp_path / 'base.py').write_text('optim_wrapper = dict(optimizer=dict(lr=3e-3))\n')
    assert sweep_tool.settings_hash(backbone, cell) != first


def test_cfg_options_are_checked_and_out_dir_is_locked(sweep_tool, tmp_path):
    cfg = tmp_path / 'sweep.py'
    cfg.write_text(SWEEP)
    with pytest.raises(KeyError, match='methodz'):
        sweep_tool.main([str(cfg), '--out-dir', str(tmp_path / 'o'), '--cfg-options', 'methodz.0.name=x'])
    out = tmp_path / 'locked'
    out.mkdir()
    with sweep_tool.OutDirLock(str(out)):
        with pytest.raises(RuntimeError, match='Another sweep'):
            sweep_tool.main([str(cfg), '--out-dir', str(out), '--no-progress'])
    assert not (out / 'results.jsonl').exists()
    # A valid override applies: one seed only.
    results = sweep_tool.main([str(cfg), '--out-dir', str(out), '--no-progress', '--cfg-options', 'seeds=[1]'])
    assert {r['seed'] for r in read(results)} == {1}


def test_sweep_views_are_cached_augmented_support_features(tmp_path, demo_cfg_options, one_torch_thread):
    """`views` in a sweep config: augmented views of the pool extracted once through the feature cache and handed
    to `fit(views=...)`. Value check on the demo assets: with a flip that always fires, each view equals a plain
    extraction of horizontally flipped images, and the Tip-Adapter cell's metrics are those of a cache keyed on
    the flipped support features (hand formula)."""
    from mmmedfm.apis.features import extract_features
    from mmmedfm.evaluation.functional import classification_metrics
    from mmmedfm.models.adapters.tip_adapter import tip_logits
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    tool = load_tool('tools/sweep.py')
    demo = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'
    backbone = dict(name='demo', config=demo, cfg_options=demo_cfg_options)
    test_pipeline = tool.backbone_config(backbone).test_dataloader.dataset.pipeline
    flipped = list(test_pipeline[:-1]) + [dict(type='RandomFlip', prob=1., direction='horizontal')] + \
        list(test_pipeline[-1:])
    cache = tmp_path / 'cache'
    (tmp_path / 'sweep.py').write_text(
        f'backbones = [{backbone!r}]\nfeature_cache = {str(cache)!r}\nshots = [2]\nseeds = [1, 2]\n'
        f'views = dict(num=2, pipeline={flipped!r})\n'
        "methods = [dict(name='Tip-views', use_views=True, adapter=dict(type='TipAdapter', alpha=1., beta=3.))]\n")
    results = tool.main([str(tmp_path / 'sweep.py'), '--out-dir', str(tmp_path / 'out'), '--no-progress'])
    assert len(list(cache.glob('train_*'))) == 3  # the pool + 2 views, shared by both cells: no re-encoding

    pool_cfg = tool.pool_config(tool.backbone_config(backbone))
    pool, test = (extract_features(pool_cfg, split, str(cache)) for split in ('train', 'test'))
    pool_cfg.test_dataloader.dataset.pipeline = flipped  # a plain (test-pipeline) extraction of flipped images
    ref = extract_features(pool_cfg, 'train', str(tmp_path / 'ref_cache')).features
    assert not torch.allclose(ref, pool.features, atol=1e-3)  # the flip changes the features
    zs, scale = tool.load_features(backbone, str(cache))[2:4]
    for row in read(results):
        support = pd.read_csv(tmp_path / 'out' / 'cells' / row['cell_id'] / 'support.csv')
        idx = [pool.image_ids.index(i) for i in support.image_id]
        values = torch.nn.functional.one_hot(pool.labels[idx], 4).float()
        zs_logits = scale * test.features @ torch.as_tensor(zs).t()
        expected, unflipped = (classification_metrics(
            test.labels.numpy(), tip_logits(test.features, zs_logits, keys, values, 1., 3.).softmax(-1).numpy(), 4)
            for keys in (ref[idx], pool.features[idx]))
        assert row['balanced_accuracy'] == pytest.approx(100 * float(expected['balanced_accuracy']), abs=1e-3)
        assert row['nll'] == pytest.approx(float(expected['nll']), rel=1e-5)
        assert row['nll'] != pytest.approx(float(unflipped['nll']), rel=1e-5)  # the check sees the views
