"""Resume after a hard kill repeats an uninterrupted run exactly, random augmentation included."""
import os.path as osp
import signal
import subprocess
import time

import pytest
import torch

from mmmedfm.utils.compat import safe_torch_load
from tests.helpers import ROOT, cli_options, load_tool
from tests.test_reliability.utils import env, last_metrics, train_cmd, write_config


def _opts(demo_cfg_options, **extra):
    # 3 epochs, validation at the end (configs from write_config train with random flips / rot90).
    return dict(demo_cfg_options, **{'train_cfg.max_epochs': 3, 'train_cfg.val_interval': 3}, **extra)


def _assert_same_weights(a, b):
    sa, sb = safe_torch_load(a)['state_dict'], safe_torch_load(b)['state_dict']
    assert sa.keys() == sb.keys()
    for k, v in sa.items():
        torch.testing.assert_close(sb[k], v, rtol=0, atol=0, msg=k)


@pytest.mark.e2e
def test_sigkill_then_resume_is_exact(tmp_path, demo_cfg_options):
    # Two dataloader workers, not persistent: workers are re-forked each epoch from the per-epoch seed (kept on a
    # CPU-only machine by env_cfg.cpu_num_workers=None).
    opts = _opts(demo_cfg_options, **{'train_dataloader.num_workers': 2, 'env_cfg.cpu_num_workers': None})
    extra = ('--no-persistent-workers', )
    train = load_tool('tools/train.py')  # the uninterrupted and the resumed run in-process (faster)
    aug = write_config(tmp_path / 'aug.py')
    train.main([aug, '--work-dir', str(tmp_path / 'full'), *extra, '--cfg-options', *cli_options(opts)])

    # Killed inside the epoch-2 checkpoint save (after a half-written epoch_2.pth.part appeared).
    slow = write_config(tmp_path / 'slow.py', extra_hooks=[dict(type='SleepInSaveHook', at_epoch=2, seconds=60)])
    assert 'RandomRot90' in open(slow).read() and 'RandomRot90' in open(aug).read()
    cut = tmp_path / 'cut'
    proc = subprocess.Popen(train_cmd(slow, cut, opts, *extra), cwd=ROOT, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not osp.exists(cut / 'sleeping') and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, 'the run ended before it could be killed'
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # The previous checkpoint survives the kill and last_checkpoint still names it (MMEngine's CheckpointHook
    # deletes epoch_1.pth before writing epoch_2.pth: nothing would be left to resume).
    assert osp.exists(cut / 'epoch_1.pth') and not osp.exists(cut / 'epoch_2.pth')
    assert (cut / 'last_checkpoint').read_text() == str(cut / 'epoch_1.pth')
    assert osp.exists(cut / 'epoch_2.pth.part')

    train.main([aug, '--work-dir', str(cut), *extra, '--resume', '--cfg-options', *cli_options(opts)])
    assert not osp.exists(cut / 'epoch_2.pth.part')  # the leftover partial file is removed at the restart
    _assert_same_weights(tmp_path / 'full' / 'epoch_3.pth', cut / 'epoch_3.pth')
    full, resumed = last_metrics(tmp_path / 'full'), last_metrics(cut)
    assert full['cls/balanced_accuracy'] == resumed['cls/balanced_accuracy']


@pytest.mark.e2e
@pytest.mark.parametrize('drop,same', [((), True), (('EpochSeedHook', ), False)])
def test_resume_needs_the_epoch_seed_hook(tmp_path, demo_cfg_options, drop, same):
    """In-process cut/resume (num_workers=0): exact with EpochSeedHook; without it the augmentation of the
    resumed epochs differs (the test above is sensitive to the RNG)."""
    train = load_tool('tools/train.py')
    cfg = write_config(tmp_path / 'cfg.py', drop_hooks=drop)
    opts = _opts(demo_cfg_options)
    train.main([cfg, '--work-dir', str(tmp_path / 'full'), '--cfg-options', *cli_options(opts)])
    half = dict(opts, **{'train_cfg.max_epochs': 1})
    train.main([cfg, '--work-dir', str(tmp_path / 'cut'), '--cfg-options', *cli_options(half)])
    train.main([cfg, '--work-dir', str(tmp_path / 'cut'), '--resume', '--cfg-options', *cli_options(opts)])
    if same:
        _assert_same_weights(tmp_path / 'full' / 'epoch_3.pth', tmp_path / 'cut' / 'epoch_3.pth')
    else:
        with pytest.raises(AssertionError):
            _assert_same_weights(tmp_path / 'full' / 'epoch_3.pth', tmp_path / 'cut' / 'epoch_3.pth')
