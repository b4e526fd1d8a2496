"""Few-shot sweep: methods x shots x seeds (x backbones) into one resumable results file.

    python tools/sweep.py configs/sweeps/demo_adapters.py [--out-dir DIR] [--cfg-options k=v ...]

Black-box adapters (``method.adapter``) run in-process on cached features (``mmmedfm.apis.extract_features``:
image features are computed once per backbone, then every cell takes seconds). PEFT/CITE methods
(``method.train_config``) run as full ``tools/train.py`` runs: in this process on one device (``in_process``,
default True: pretrained weights loaded once per backbone), else one subprocess per cell and GPU listed in
``gpus``. Every finished cell is one line of ``<out_dir>/results.jsonl`` (method, backbone, dataset, shots, seed,
every metric, wall time, confusion matrix, ``settings`` = hash of the backbone + method settings, their merged configs and the adapter's code defaults
and ``recipe_version``) and
re-running skips the cells already there with the same settings; a cell whose settings changed (a method's
hyper-parameters edited) runs again and its new row supersedes the old one. Each cell also stores
``<out_dir>/cells/<cell-id>/{config.py, support.csv, env.json}`` (a training cell trains from that very
``config.py``, so paths are kept verbatim). ``results.csv`` (latest row per cell) is rewritten at the end, and a
summary and the report command are printed. One sweep at a time per ``out_dir`` (a lock file refuses a second).

Augmented views (Tip-Adapter's cache keys averaged over augmented views, CLAP's augmented support): a sweep
config ``views = dict(num=10, pipeline=[...], seed=0)`` (``pipeline`` defaults to the backbone config's train
pipeline) extracts ``num`` seeded augmented views of the pool once per backbone through the feature cache; a
method with ``use_views=True`` gets its support rows of every view in ``fit(views=...)`` (the views enter its
settings hash).
"""
import argparse
import fcntl
import hashlib
import json
import os
import os.path as osp
import platform
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from functools import lru_cache

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a source checkout too

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmmedfm.utils import register_all_modules  # noqa: E402
from mmmedfm.utils.cli import CfgOptionsAction, read_config  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Run a few-shot sweep (resumable)')
    parser.add_argument('config', help='sweep config (.py): backbones, methods, shots, seeds, out_dir')
    parser.add_argument('--out-dir', help='override out_dir of the sweep config')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, help='override sweep config keys')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def backbone_config(backbone: dict) -> Config:
    """The backbone's experiment config with its ``cfg_options`` applied."""
    cfg = Config.fromfile(backbone['config'])
    cfg.merge_from_dict(backbone.get('cfg_options', {}))
    return cfg


def pool_config(cfg: Config) -> Config:
    """The config whose ``train`` split is the whole few-shot pool: no shot sampling, the test pipeline (no
    augmentation), so cached pool features are deterministic; supports are drawn from it per cell."""
    cfg = deepcopy(cfg)
    cfg.train_dataloader.dataset.num_shots = None
    cfg.train_dataloader.dataset.pipeline = deepcopy(cfg.test_dataloader.dataset.pipeline)
    return cfg


def load_features(backbone: dict, cache_dir: str):
    """``(pool FeatureSet, test FeatureSet, zs_weights (C, D), logit_scale, cfg)`` for one backbone (cached)."""
    from mmmedfm.apis.features import extract_features, zero_shot_classifier
    cfg = pool_config(backbone_config(backbone))
    pool = extract_features(cfg, 'train', cache_dir=cache_dir)
    test = extract_features(cfg, 'test', cache_dir=cache_dir)
    zs, scale = zero_shot_classifier(cfg)
    return pool, test, zs, scale, cfg


def compute_metrics(y_true: np.ndarray, probs: np.ndarray, num_classes: int) -> dict:
    """Every metric of :func:`mmmedfm.evaluation.classification_metrics` (rates in %, as the training logs)
    plus the confusion matrix."""
    from mmmedfm.evaluation.functional import as_percent, classification_metrics, confusion
    metrics = as_percent({k: float(v) for k, v in classification_metrics(y_true, probs, num_classes).items()})
    metrics['confusion_matrix'] = confusion(y_true, probs.argmax(1), num_classes).tolist()
    return metrics


@lru_cache(1)
def env_info() -> dict:
    import mmengine
    import mmpretrain
    import sklearn
    import transformers
    from mmmedfm.version import __version__
    return dict(python=platform.python_version(), platform=platform.platform(), torch=torch.__version__,
                cuda=torch.version.cuda, mmengine=mmengine.__version__, mmpretrain=mmpretrain.__version__,
                transformers=transformers.__version__, sklearn=sklearn.__version__, numpy=np.__version__,
                mmmedfm=__version__)


def cell_id(backbone: str, method: str, shots: int, seed: int) -> str:
    safe = ''.join(ch if ch.isalnum() or ch in '-_.+' else '-' for ch in f'{backbone}__{method}')
    return f'{safe}__{shots}shot__seed{seed}'


def resolved_settings(backbone: dict, method: dict) -> dict:
    """What a cell's result depends on beyond the sweep config's own entries: the backbone's merged experiment
    config (an edited ``_base_`` counts), a training cell's merged ``train_config``, an adapter's constructor
    defaults (over its whole class hierarchy) and its ``recipe_version``; so a changed default or recipe re-runs
    the cells it affects instead of keeping stale rows."""
    import inspect
    resolved = dict(backbone_config=backbone_config(backbone).to_dict())
    if 'train_config' in method:
        resolved['train_config'] = Config.fromfile(method['train_config']).to_dict()
    if 'adapter' in method:
        from mmmedfm.registry import MODELS
        cls = MODELS.get(method['adapter']['type'])
        if cls is None:
            raise KeyError(f"Method {method.get('name')!r}: adapter type {method['adapter']['type']!r} is not "
                           'registered.')
        defaults = {}
        for klass in reversed(cls.__mro__):
            if '__init__' in vars(klass) and klass.__module__.startswith('mmmedfm'):
                defaults.update({n: p.default for n, p in inspect.signature(klass.__init__).parameters.items()
                                 if p.default is not inspect.Parameter.empty})
        resolved['adapter'] = dict(cls=f'{cls.__module__}.{cls.__qualname__}', defaults=defaults,
                                   recipe_version=getattr(cls, 'recipe_version', None))
    return resolved


def settings_hash(backbone: dict, method: dict, dataset=None, views=None) -> str:
    """Short hash of everything that defines a cell's result except shots and seed (backbone + method config,
    their :func:`resolved_settings`, and the sweep's ``views`` for a method that uses them)."""
    settings = dict(backbone=backbone, method=method, dataset=dataset, resolved=resolved_settings(backbone, method),
                    **({'views': views} if views else {}))
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def read_rows(results: str) -> list:
    """Rows of the results JSONL, rates in % (rows of older versions converted); a truncated line left by a
    killed run is skipped."""
    rows = []
    if osp.isfile(results):
        with open(results) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict) and 'cell_id' in row:
                    rows.append(row)
    from mmmedfm.evaluation.functional import rows_in_percent
    return rows_in_percent(rows)


def latest_rows(rows: list) -> list:
    """The last row of every ``cell_id`` (a re-run after a settings change supersedes the earlier row)."""
    return list({r['cell_id']: r for r in rows}.values())


def read_done(results: str) -> dict:
    """``{cell_id: settings hash}`` of the latest row of every cell in the results JSONL."""
    return {r['cell_id']: r.get('settings') for r in latest_rows(read_rows(results))}


class OutDirLock:
    """Exclusive lock on ``<out_dir>/.sweep.lock``: a second sweep on the same ``out_dir`` stops with an error
    instead of writing duplicated rows (released when the process ends, even if killed)."""

    def __init__(self, out_dir: str):
        self.path = osp.join(out_dir, '.sweep.lock')

    def __enter__(self):
        self.file = open(self.path, 'a+')
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise RuntimeError(f'Another sweep is writing to {osp.dirname(self.path)} (lock {self.path}); wait '
                               'for it to finish or use another --out-dir.') from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def start_new_line(path: str) -> None:
    """Make the next append start on a fresh line (a killed run may have left a partial last line)."""
    if osp.isfile(path) and osp.getsize(path):
        with open(path, 'rb+') as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b'\n':
                f.write(b'\n')


def write_cell_files(cell_dir: str, cell_cfg: dict, support_rows: list) -> None:
    import pandas as pd
    os.makedirs(cell_dir, exist_ok=True)
    Config(cell_cfg).dump(osp.join(cell_dir, 'config.py'))
    pd.DataFrame(support_rows).to_csv(osp.join(cell_dir, 'support.csv'), index=False)
    with open(osp.join(cell_dir, 'env.json'), 'w') as f:
        json.dump(env_info(), f, indent=1)


def support_indices(labels, shots: int, seed: int, classes) -> list:
    """Indices of the ``shots``-per-class support, drawn like the datasets do (seeded, nested over shots)."""
    from mmmedfm.datasets.few_shot import sample_few_shot
    pool = [dict(gt_label=int(y), index=i) for i, y in enumerate(labels.tolist())]
    return [d['index'] for d in sample_few_shot(pool, shots, seed, classes)]


def fill_pretrained(method_cfg: dict, foundation_model) -> dict:
    """Give ``text_encoder`` configs (CoOp) the backbone's foundation model, like ``VLMClassifier`` does."""
    cfg = deepcopy(method_cfg)
    if isinstance(cfg.get('text_encoder'), dict) and cfg['text_encoder'].get('pretrained') is None:
        cfg['text_encoder']['pretrained'] = foundation_model
    return cfg


def prompt_class_names(cfg: Config, classes: list) -> list:
    """The words the zero-shot prompts use for each class (its first description, else its name), for prompt
    learners: CoOp must learn ``ctx + "benign glands"``, not ``ctx + "NC"``."""
    from mmmedfm.registry import DATASETS
    prompts = ((cfg.get('model') or {}).get('head') or {}).get('prompts') or {}
    meta = dict(DATASETS.get(prompts['dataset']).METAINFO) if 'dataset' in prompts else {}
    descriptions = prompts.get('descriptions', meta.get('descriptions')) or {}
    return [list(descriptions.get(c) or [c])[0] for c in classes]


def method_views(sweep: Config, method: dict):
    """The sweep's ``views`` config if ``method`` sets ``use_views`` (else ``None``); checked."""
    if not method.get('use_views'):
        return None
    views = sweep.get('views')
    if not views or int(views.get('num', 0)) < 1:
        raise KeyError(f"Method {method.get('name')!r} sets `use_views` but the sweep config has no `views` "
                       '(e.g. `views = dict(num=10, pipeline=[...])`).')
    return views


class AdapterCells:
    """Runs adapter cells of one backbone on its cached features (text towers built once and shared).

    ``views``: the sweep's ``dict(num, pipeline=None, seed=0)``: ``num`` augmented views of the whole pool,
    extracted once per backbone through the feature cache (:func:`mmmedfm.apis.features.extract_views`;
    ``pipeline`` defaults to the backbone config's train pipeline); a cell whose method sets ``use_views``
    passes its support rows of every view to ``fit(views=...)``."""

    def __init__(self, backbone: dict, cache_dir: str, views: dict = None):
        self.backbone, self.cache_dir, self.views_cfg, self._views = backbone, cache_dir, views, None
        self.pool, self.test, zs, self.scale, self.cfg = load_features(backbone, cache_dir)
        self.zs = torch.as_tensor(zs).float()
        self.class_words = prompt_class_names(self.cfg, list(self.pool.classes))
        self.text_encoders = {}
        self._anchors = False

    @property
    def anchors(self):
        """Raw template-mean text embeddings (CLAP/ZS-LP anchors) or ``None``; computed on first use."""
        if self._anchors is False:
            from mmmedfm.apis.features import class_text_anchors
            self._anchors = class_text_anchors(self.cfg) if self.cfg.get('model', {}).get('head') else None
        return self._anchors

    @property
    def pool_views(self) -> torch.Tensor:
        """``(V, N_pool, D)`` augmented views of the pool (extracted or read from the cache on first use)."""
        if self._views is None:
            from mmmedfm.apis.features import extract_views
            views = self.views_cfg
            pipeline = views.get('pipeline') or backbone_config(self.backbone).train_dataloader.dataset.pipeline
            self._views = extract_views(self.cfg, 'train', pipeline, int(views['num']), int(views.get('seed', 0)),
                                        self.cache_dir)
        return self._views

    def build(self, method: dict, seed: int):
        from mmmedfm.registry import MODELS
        adapter_cfg = fill_pretrained(method['adapter'], self.cfg.get('model', {}).get('foundation_model'))
        build_cfg = dict(adapter_cfg, seed=seed)
        if isinstance(adapter_cfg.get('text_encoder'), dict):
            key = json.dumps(adapter_cfg['text_encoder'], sort_keys=True)
            if key not in self.text_encoders:
                self.text_encoders[key] = MODELS.build(adapter_cfg['text_encoder'])
            build_cfg['text_encoder'] = self.text_encoders[key]
        return MODELS.build(build_cfg), dict(adapter_cfg, seed=seed)

    def run(self, method: dict, shots: int, seed: int, cell_dir: str) -> dict:
        pool, classes = self.pool, list(self.pool.classes)
        idx = support_indices(pool.labels, shots, seed, classes)
        start = time.perf_counter()
        adapter, adapter_cfg = self.build(method, seed)
        support = (pool.features[idx], pool.labels[idx])
        anchors = self.anchors if method['adapter'].get('type') in ('CLAP', 'ZSLinearProbe', 'CLIPAdapter') else None
        views = self.pool_views[:, idx] if method.get('use_views') else None
        adapter.fit(support, self.zs, self.scale, class_names=self.class_words, text_anchors=anchors, views=views)
        probs = adapter.predict_proba(self.test.features).numpy()
        wall = time.perf_counter() - start
        row = compute_metrics(self.test.labels.numpy(), probs, len(classes))
        chosen = {k: getattr(adapter, a) for k, a in (('C', 'selected_C'), ('alpha', 'alpha_'), ('beta', 'beta_'))
                  if hasattr(adapter, a)}
        support_rows = [dict(image_id=pool.image_ids[i], wsi_id=pool.wsi_ids[i], label=int(pool.labels[i]),
                             class_name=classes[int(pool.labels[i])]) for i in idx]
        write_cell_files(cell_dir, dict(backbone=self.backbone, method=dict(method, adapter=adapter_cfg),
                                        shots=shots, seed=seed, selected_hparams=chosen), support_rows)
        return dict(row, wall_time_s=wall, num_support=len(idx), num_test=len(probs), selected_hparams=chosen,
                    classes=classes)


def last_val_metrics(work_dir: str) -> dict:
    """The last validation line MMEngine wrote to ``<work_dir>/<timestamp>/vis_data/scalars.json``."""
    import glob
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'No {work_dir}/*/vis_data/scalars.json: the training run wrote no metrics.')
    last = {}
    with open(files[-1]) as f:
        for line in f:
            entry = json.loads(line)
            if 'loss' not in entry and 'lr' not in entry:
                last = entry
    if not last:
        raise ValueError(f'{files[-1]} has no validation line: is validation disabled in the training config?')
    return {k.split('/')[-1]: v for k, v in last.items() if k not in ('step', 'epoch', 'iter')}


def run_train_cell(method: dict, backbone: dict, shots: int, seed: int, cell_dir: str, gpu=None,
                   in_process: bool = False) -> dict:
    """One PEFT/CITE cell: a full ``tools/train.py`` run of ``method.train_config`` (validation at the end), in a
    subprocess or, with ``in_process``, here (:func:`mmmedfm.apis.train_cells.run_train_in_process`).

    The merged config (backbone and method ``cfg_options``, shots, seed) is written to ``<cell_dir>/config.py``
    and trained from there: values such as paths with spaces reach the run verbatim (``--cfg-options`` would
    strip the spaces)."""
    from mmmedfm.registry import DATASETS
    opts = dict(backbone.get('cfg_options', {}), **method.get('cfg_options', {}))
    opts.update({'train_dataloader.dataset.num_shots': shots, 'train_dataloader.dataset.shot_seed': seed,
                 'randomness.seed': seed})
    cfg = read_config(method['train_config'], opts)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    support_rows = [dict(image_id=osp.basename(d['img_path']), wsi_id=d.get('wsi_id', ''), label=int(d['gt_label']))
                    for d in (dataset.get_data_info(i) for i in range(len(dataset)))]
    write_cell_files(cell_dir, cfg.to_dict(), support_rows)
    work_dir = osp.join(cell_dir, 'work_dir')
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), osp.abspath(osp.join(cell_dir, 'config.py')),
           '--work-dir', work_dir] + method.get('train_args', [])
    env = dict(os.environ, **({'CUDA_VISIBLE_DEVICES': str(gpu)} if gpu is not None else {}))
    start = time.perf_counter()
    if in_process:
        from mmmedfm.apis.train_cells import run_train_in_process
        open(osp.join(cell_dir, 'train.log'), 'w').close()
        run_train_in_process(cmd[2:], osp.join(cell_dir, 'train.log'), osp.basename(cell_dir), gpu)
        proc = subprocess.CompletedProcess(cmd, 0)
    else:
        with open(osp.join(cell_dir, 'train.log'), 'w') as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f'Training cell {osp.basename(cell_dir)} failed (exit {proc.returncode}); '
                           f'see {cell_dir}/train.log')
    metrics = last_val_metrics(work_dir)  # rates logged in % already
    return dict(metrics, wall_time_s=time.perf_counter() - start, num_support=len(support_rows),
                classes=[str(c) for c in dataset.metainfo.get('classes', [])])


def plan_cells(sweep: Config, done: dict) -> tuple:
    """``(jobs, kept, stale)``: cells to run ``(backbone, method, shots, seed, cell_id, settings)``, the number
    already done with the same settings, and the number done with other settings (to be re-run)."""
    jobs, kept, stale = [], 0, 0
    for backbone in sweep.backbones:
        for method in sweep.methods:
            if ('adapter' in method) == ('train_config' in method):
                raise KeyError(f"Method {method.get('name')!r}: give exactly one of `adapter` or `train_config`.")
            settings = settings_hash(backbone, method, sweep.get('dataset'), method_views(sweep, method))
            for shots in sweep.shots:
                for seed in sweep.seeds:
                    cid = cell_id(backbone['name'], method['name'], shots, seed)
                    if done.get(cid, settings) != settings:
                        stale += 1
                    elif cid in done:
                        kept += 1
                        continue
                    jobs.append((backbone, method, shots, seed, cid, settings))
    return jobs, kept, stale


def summary(results: str, metric: str = 'balanced_accuracy') -> str:
    """Mean +- std of ``metric`` (in %) per backbone x method x shots over the latest rows."""
    import pandas as pd
    rows = latest_rows(read_rows(results))
    if not rows:
        return 'no results'
    df = pd.DataFrame(rows)
    if metric not in df:
        return f'no {metric} in the results'
    g = df.groupby(['backbone', 'method', 'shots'])[metric].agg(['mean', 'std', 'count'])
    table = g.apply(lambda r: f"{r['mean']:.1f} +- {0 if pd.isna(r['std']) else r['std']:.1f} (n={int(r['count'])})",
                    axis=1).unstack('shots')
    return f'{metric} (%), mean +- std over seeds:\n{table.to_string()}'


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    sweep = read_config(args.config, args.cfg_options)
    out_dir = args.out_dir or sweep.get('out_dir') or osp.join(
        'work_dirs', 'sweeps', osp.splitext(osp.basename(args.config))[0])
    for key in ('backbones', 'methods', 'shots', 'seeds'):
        if not sweep.get(key):
            raise KeyError(f'Sweep config {args.config} needs a non-empty `{key}`.')
    if sweep.get('num_threads'):
        torch.set_num_threads(sweep.num_threads)
    os.makedirs(out_dir, exist_ok=True)
    results = osp.join(out_dir, 'results.jsonl')
    with OutDirLock(out_dir):
        run_cells(sweep, args, out_dir, results)
        write_csv(results)
    print(summary(results))
    print(f'Results: {results}\nReport:  python tools/analysis/report.py {results}')
    return results


def run_cells(sweep: Config, args, out_dir: str, results: str) -> None:
    """Run every cell not yet in ``results`` with the current settings, appending one row per cell."""
    jobs, kept, stale = plan_cells(sweep, read_done(results))
    start_new_line(results)
    cache_dir = sweep.get('feature_cache', 'work_dirs/feature_cache')
    print(f'{len(jobs)} cells to run ({stale} of them re-run because their settings changed), {kept} already '
          f'in {results}')
    from tqdm import tqdm
    bar = tqdm(total=len(jobs), disable=args.no_progress, desc='sweep')
    lock = threading.Lock()

    def record(backbone, method, shots, seed, cid, settings, metrics):
        dataset = sweep.get('dataset') or backbone_config(backbone).train_dataloader.dataset.type
        row = dict(cell_id=cid, method=method['name'], backbone=backbone['name'], dataset=dataset, shots=shots,
                   seed=seed, kind='adapter' if 'adapter' in method else 'train', settings=settings, rates='percent',
                   **metrics)
        with lock:
            with open(results, 'a') as f:
                f.write(json.dumps(row) + '\n')
            bar.update(1)
            bar.set_postfix_str(cid)

    adapter_jobs = [j for j in jobs if 'adapter' in j[1]]
    for backbone in sweep.backbones:
        mine = [j for j in adapter_jobs if j[0] is backbone]
        if mine:
            runner = AdapterCells(backbone, cache_dir, sweep.get('views'))
            for job in mine:
                record(*job, runner.run(job[1], job[2], job[3], osp.join(out_dir, 'cells', job[4])))
    train_jobs = [j for j in jobs if 'train_config' in j[1]]
    if train_jobs:
        gpus = queue.Queue()
        for g in sweep.get('gpus') or [None]:
            gpus.put(g)
        # One device: every cell in this process, pretrained weights loaded once per backbone.
        in_process = bool(sweep.get('in_process', True)) and gpus.qsize() == 1

        def work(job):
            gpu = gpus.get()
            try:
                backbone, method, shots, seed, cid, _ = job
                record(*job, run_train_cell(method, backbone, shots, seed, osp.join(out_dir, 'cells', cid), gpu,
                                            in_process))
            finally:
                gpus.put(gpu)
        if in_process:
            from mmmedfm.models.utils.load_memo import reuse_loaded_models
            for backbone in sweep.backbones:
                with reuse_loaded_models():
                    for job in [j for j in train_jobs if j[0] is backbone]:
                        work(job)
            train_jobs = []

        with ThreadPoolExecutor(max_workers=gpus.qsize()) as pool:
            for fut in [pool.submit(work, j) for j in train_jobs]:
                fut.result()
    bar.close()


def write_csv(results: str) -> None:
    """``results.csv`` next to the JSONL: the latest row of every cell, one column per scalar metric (matrices
    and dicts left out)."""
    import pandas as pd
    rows = latest_rows(read_rows(results))
    if not rows:
        return
    df = pd.DataFrame(rows)
    df = df[[c for c in df.columns if c not in ('confusion_matrix', 'selected_hparams', 'classes')]]
    df.to_csv(osp.splitext(results)[0] + '.csv', index=False)


if __name__ == '__main__':
    from mmmedfm.utils.cli import run_cli
    run_cli(main)
