"""The tools' dataloader defaults: MMPretrain's, plus no worker processes competing with a CPU-only training."""
import pytest
import torch
from mmengine.config import Config

from mmmedfm.utils.cli import set_dataloader_defaults

FIELDS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _cfg(**env):
    loader = dict(batch_size=4, num_workers=2, persistent_workers=True, dataset=dict(type='X'))
    return Config(dict(train_dataloader=dict(loader), val_dataloader=dict(loader, num_workers=1),
                       test_dataloader=None, **({'env_cfg': env} if env else {})))


@pytest.mark.parametrize('env,cuda,expected', [
    ({}, False, (0, 0)),                              # default cap on a CPU-only machine
    (dict(cpu_num_workers=1), False, (1, 1)),         # a configured cap
    (dict(cpu_num_workers=None), False, (2, 1)),      # cap off: the loaders' own values
    ({}, True, (2, 1)),                               # with a GPU the workers overlap loading and compute
])
def test_cpu_only_runs_cap_loader_workers(monkeypatch, env, cuda, expected):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = _cfg(**env)
    set_dataloader_defaults(cfg, FIELDS)
    got = (cfg.train_dataloader.num_workers, cfg.val_dataloader.num_workers)
    assert got == expected
    assert cfg.test_dataloader is None
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        # persistent workers only where there are workers; pinned memory only with CUDA
        assert loader.persistent_workers == (loader.num_workers > 0)
        assert loader.pin_memory == cuda
        assert loader.collate_fn == dict(type='default_collate')
