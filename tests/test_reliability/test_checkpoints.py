"""Checkpoints are never lost: a full disk during a write keeps the previous one; ``--resume`` takes the newest
checkpoint that loads (naming any it skips) and refuses to silently start over when there is none.
(Kill during a write: tests/test_reliability/test_resume.py.)"""
import errno
import glob
import os.path as osp

import pytest
from mmengine.fileio import LocalBackend

from mmmedfm.engine.resume import NothingToResumeError, find_resumable_checkpoint
from mmmedfm.utils.compat import safe_torch_load
from tests.helpers import cli_options, load_tool
from tests.test_reliability.utils import DEMO


def _train(work, opts, *extra):
    return load_tool('tools/train.py').main([DEMO, '--work-dir', str(work), *extra,
                                             '--cfg-options', *cli_options(opts)])


def _epochs(opts, n, keep=1):
    return dict(opts, **{'train_cfg.max_epochs': n, 'train_cfg.val_interval': 100,
                         'default_hooks.checkpoint.max_keep_ckpts': keep})


def test_disk_full_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, demo_cfg_options, monkeypatch):
    put = LocalBackend.put

    def full_disk(self, obj, filepath):
        if str(filepath).endswith('epoch_2.pth.part'):
            with open(filepath, 'wb') as f:
                f.write(obj[:100])  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, 'No space left on device')
        return put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', full_disk)
    work = tmp_path / 'work'
    with pytest.raises(OSError, match=rf'Cannot write checkpoint {work}/epoch_2\.pth: No space left on device; '
                                      rf'the previous checkpoint {work}/epoch_1\.pth is intact') as e:
        _train(work, _epochs(demo_cfg_options, 2))
    assert e.value.errno == errno.ENOSPC
    assert sorted(osp.basename(p) for p in glob.glob(str(work / 'epoch_*'))) == ['epoch_1.pth']
    assert safe_torch_load(str(work / 'epoch_1.pth'))['meta']['epoch'] == 1
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')


def test_resume_skips_a_corrupt_newest_checkpoint(tmp_path, demo_cfg_options, capsys):
    work = tmp_path / 'work'
    _train(work, _epochs(demo_cfg_options, 2, keep=2))
    (work / 'epoch_2.pth').write_bytes((work / 'epoch_2.pth').read_bytes()[:500])  # truncated (e.g. bad disk)
    capsys.readouterr()
    _train(work, _epochs(demo_cfg_options, 3, keep=2), '--resume')
    out = ''.join(capsys.readouterr())
    assert f'--resume: skipping {work}/epoch_2.pth: Cannot read checkpoint' in out
    assert f'--resume: continuing from {work}/epoch_1.pth' in out
    assert safe_torch_load(str(work / 'epoch_3.pth'))['meta']['epoch'] == 3


def test_resume_candidates_newest_first_and_missing_target(tmp_path, demo_cfg_options):
    work = tmp_path / 'work'
    _train(work, _epochs(demo_cfg_options, 2, keep=2))
    (work / 'last_checkpoint').write_text(str(work / 'epoch_9.pth'))  # names a file that is gone
    skipped = []
    assert find_resumable_checkpoint(str(work), skipped.append) == str(work / 'epoch_2.pth')
    assert skipped == [f'--resume: skipping {work}/epoch_9.pth: the file does not exist.']


def test_resume_with_nothing_to_resume(tmp_path, demo_cfg_options):
    work = tmp_path / 'work'
    with pytest.raises(NothingToResumeError, match=rf'--resume: nothing to resume in {work} '):
        _train(work, _epochs(demo_cfg_options, 1), '--resume')
    assert not work.exists()  # refused before anything was written
    _train(work, _epochs(demo_cfg_options, 1), '--resume-or-start')  # asked for: starts from scratch
    assert safe_torch_load(str(work / 'epoch_1.pth'))['meta']['epoch'] == 1
