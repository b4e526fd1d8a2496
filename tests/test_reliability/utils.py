"""Helpers for the reliability tests: generated configs, subprocess runs of the tools, reading results."""
import glob
import json
import os
import os.path as osp
import sys

from tests.helpers import ROOT, cli_options

DEMO = osp.join(ROOT, 'configs', 'demo', 'lora-zs_plip_16shot-20e_sicapv2_demo.py')
PLUGINS = 'tests.test_reliability.plugins'


# The demo trains without augmentation (the seed notebook's recipe); resume and DDP tests need random transforms
# to be sensitive to the RNG, so their configs train with flips and quarter turns.
AUGMENTED_TRAIN_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                            dict(type='RandomRot90', prob=0.5), dict(type='PackInputs')]


def write_config(path, base=DEMO, extra_hooks=(), drop_hooks=(), augment=True, **fields) -> str:
    """A config file that inherits ``base``, keeps its ``custom_hooks`` (minus the types in ``drop_hooks``)
    plus ``extra_hooks``, trains with :data:`AUGMENTED_TRAIN_PIPELINE` when ``augment`` and sets top-level
    ``fields`` (repr'd)."""
    if augment:
        fields = dict(train_dataloader=dict(dataset=dict(pipeline=AUGMENTED_TRAIN_PIPELINE)), **fields)
    from mmengine.config import Config
    hooks = [h for h in Config.fromfile(base).to_dict().get('custom_hooks', []) if h['type'] not in drop_hooks]
    lines = [f'_base_ = [{base!r}]',
             f'custom_imports = dict(imports=[{PLUGINS!r}], allow_failed_imports=False)',
             f'custom_hooks = {hooks + list(extra_hooks)!r}']
    lines += [f'{k} = {v!r}' for k, v in fields.items()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(path)


def env() -> dict:
    e = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
             OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return e


def train_cmd(config, work_dir, opts, *extra):
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(config), '--work-dir', str(work_dir),
            *extra, '--cfg-options', *cli_options(opts)]


def last_metrics(work_dir) -> dict:
    """The last validation record in the work dir's scalar logs (latest run)."""
    records = []
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    vals = [r for r in records if any(k.startswith('cls/') for k in r)]
    assert vals, f'no validation record under {work_dir}'
    return vals[-1]
