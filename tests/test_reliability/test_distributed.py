"""``tools/dist_train.sh CONFIG 2`` (torchrun, gloo on CPU): same global batch -> same weights and metrics as
one process, with the config's random augmentation on (per-sample seeds, mmmedfm/datasets/seeded_augment.py);
distributed evaluation sees each validation sample exactly once (odd-sized val set)."""
import pytest
import os
import os.path as osp
import socket
import stat
import subprocess
import sys

from mmmedfm.utils.compat import safe_torch_load
from tests.helpers import ROOT, cli_options, load_tool
from tests.test_reliability.utils import env, last_metrics, write_config

# Weights after 2 Adam steps differ only by float summation order (gradient all-reduce vs one batch); printed
# with -s. Without per-sample seeds (EpochSeedHook per_sample=False) each rank draws its own flips/rotations.
WEIGHT_ATOL = 1e-5
VAL_SIZE = 23  # odd: 2 ranks get 12 + 12 with one padded duplicate that the gather must drop


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _opts(demo_cfg_options, batch):
    # this config's own val_evaluator (BalancedAccuracy, SampleCount) writes no figures
    opts = {k: v for k, v in demo_cfg_options.items() if not k.startswith('val_evaluator.')}
    return dict(opts, **{
        'train_dataloader.batch_size': batch,  # 4 shots x 4 classes = 16 images: one step per epoch
        'val_dataloader.dataset.indices': VAL_SIZE, 'val_dataloader.batch_size': 5})


@pytest.mark.dist
@pytest.mark.timeout(900)
@pytest.mark.e2e
@pytest.mark.parametrize('per_sample', [True, False])
def test_two_processes_match_one(tmp_path, demo_cfg_options, per_sample):
    cfg = write_config(tmp_path / 'cfg.py', drop_hooks=('EpochSeedHook', ),
                       extra_hooks=[dict(type='EpochSeedHook', per_sample=per_sample)],
                       val_evaluator=[dict(type='BalancedAccuracy', num_classes=4), dict(type='SampleCount')])
    load_tool('tools/train.py').main([cfg, '--work-dir', str(tmp_path / 'one'), '--cfg-options',
                                      *cli_options(_opts(demo_cfg_options, 16))])
    e = env()
    e.update(PORT=str(_free_port()), PATH=osp.dirname(sys.executable) + os.pathsep + e['PATH'])
    p = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg, '2', '--work-dir',
                        str(tmp_path / 'two'), '--cfg-options', *cli_options(_opts(demo_cfg_options, 8))],
                       cwd=ROOT, env=e, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-12000:-2000]
    assert 'Distributed training: True' in p.stdout and 'GPU number: 2' in p.stdout  # world size 2

    one, two = (safe_torch_load(tmp_path / d / 'epoch_2.pth')['state_dict'] for d in ('one', 'two'))
    assert one.keys() == two.keys()
    max_diff = max((one[k].float() - two[k].float()).abs().max().item() for k in one)
    print(f'max |Δ weights| 1 vs 2 processes (augmentation on, per_sample={per_sample}): {max_diff:.3g}')
    if not per_sample:  # each rank draws its own augmentations: the weights differ
        assert max_diff > 100 * WEIGHT_ATOL
        return
    assert max_diff <= WEIGHT_ATOL, f'max |weights(1 proc) - weights(2 procs)| = {max_diff:.3g}'

    m1, m2 = last_metrics(tmp_path / 'one'), last_metrics(tmp_path / 'two')
    expected = dict(samples=VAL_SIZE, unique=VAL_SIZE, idx_sum=sum(range(VAL_SIZE)))
    assert {k: m1[f'count/{k}'] for k in expected} == expected
    assert {k: m2[f'count/{k}'] for k in expected} == expected
    assert abs(m1['cls/balanced_accuracy'] - m2['cls/balanced_accuracy']) <= 1e-6


@pytest.mark.e2e
def test_slurm_train_passes_mmpretrain_arguments(tmp_path):
    """slurm_train.sh PARTITION JOB CONFIG WORK_DIR [args] -> srun ... python -u tools/train.py CONFIG
    --work-dir=WORK_DIR --launcher=slurm [args] (as MMPretrain's); srun is faked to record its argv."""
    log = tmp_path / 'srun.args'
    fake = tmp_path / 'bin' / 'srun'
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    e = dict(os.environ, PATH=f'{fake.parent}{os.pathsep}{os.environ["PATH"]}', GPUS='4', GPUS_PER_NODE='2',
             CPUS_PER_TASK='3')
    subprocess.run(['bash', osp.join(ROOT, 'tools', 'slurm_train.sh'), 'gpu', 'job1', 'cfg.py', 'wd',
                    '--amp', '--cfg-options', 'a.b=1'], cwd=ROOT, env=e, check=True, capture_output=True)
    args = log.read_text().split('\n')[:-1]
    assert args == ['-p', 'gpu', '--job-name=job1', '--gres=gpu:2', '--ntasks=4', '--ntasks-per-node=2',
                    '--cpus-per-task=3', '--kill-on-bad-exit=1', 'python', '-u', 'tools/train.py', 'cfg.py',
                    '--work-dir=wd', '--launcher=slurm', '--amp', '--cfg-options', 'a.b=1']
