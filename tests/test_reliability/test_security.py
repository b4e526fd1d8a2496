"""Checkpoints are loaded weights-only: a malicious pickle is refused before it runs; truncated files fail
clearly."""
import os
import os.path as osp
import pickle

import pytest
import torch

from mmmedfm.utils.compat import UnsafeCheckpointError, safe_torch_load
from tests.helpers import cli_options, load_tool
from tests.test_reliability.utils import DEMO


class _Exploit:
    """Unpickling this calls ``os.system('touch MARKER')``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture
def malicious(tmp_path):
    marker = tmp_path / 'PWNED'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Exploit(marker)}, path)
    # Sanity: the payload really runs the command when unpickled without weights_only (a separate marker).
    probe = tmp_path / 'probe'
    pickle.loads(pickle.dumps(_Exploit(probe)))
    assert probe.exists()
    return path, marker


@pytest.fixture
def truncated(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save({'state_dict': {'w': torch.randn(256, 256)}}, path)
    with open(path, 'r+b') as f:
        f.truncate(osp.getsize(path) // 2)
    return path


def test_safe_torch_load_refuses_pickle(malicious):
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth.*weights_only=True'):
        safe_torch_load(str(path))
    assert not marker.exists()


def test_mmengine_load_checkpoint_refuses_pickle(malicious):
    from mmengine.runner import load_checkpoint
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), str(path))
    assert not marker.exists()


@pytest.mark.e2e
def test_test_tool_refuses_pickle(malicious, demo_cfg_options, tmp_path):
    path, marker = malicious
    test = load_tool('tools/test.py')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        test.main([DEMO, str(path), '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                   *cli_options(demo_cfg_options)])
    assert not marker.exists()


@pytest.mark.e2e
def test_train_load_from_refuses_pickle(malicious, demo_cfg_options, tmp_path):
    path, marker = malicious
    train = load_tool('tools/train.py')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        train.main([DEMO, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                    *cli_options(dict(demo_cfg_options, load_from=str(path)))])
    assert not marker.exists()


@pytest.mark.e2e
def test_truncated_checkpoint_names_the_file(truncated, demo_cfg_options, tmp_path):
    with pytest.raises(RuntimeError, match=r"cut\.pth.*truncated"):
        safe_torch_load(str(truncated))
    test = load_tool('tools/test.py')
    with pytest.raises(RuntimeError, match=r"cut\.pth.*truncated"):
        test.main([DEMO, str(truncated), '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                   *cli_options(demo_cfg_options)])
