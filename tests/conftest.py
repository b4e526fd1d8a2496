import gc
import os
import os.path as osp
import sys

import pytest

if os.environ.get('PYTEST_XDIST_WORKER'):
    # pytest-xdist runs one worker per core (pytest.ini): one thread each, also for the tools they start.
    # Set before torch is imported (it reads them once).
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = '1'

from tests.helpers import NO_FIGURES  # noqa: E402 (imports torch)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

# Collection order = the order in which xdist hands tests out: start the long ones first, so that the two
# workers do not end on one long test each other waits for. Stable within a rank (module order kept).
_RANK = {'dist': 0, 'slow': 1, 'e2e': 2}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: min((_RANK[m.name] for m in item.iter_markers() if m.name in _RANK), default=3))


@pytest.fixture(scope='session', autouse=True)
def _registered():
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        import torch
        torch.set_num_threads(1)


@pytest.fixture(scope='session', autouse=True)
def _memoised_config_formatting(_registered):
    """Format each distinct config text with yapf once per session.

    MMEngine re-formats the whole config (``Config.pretty_text``, yapf, ~0.3 s) for the log, the dumped config and
    every checkpoint's meta; a tiny test run formats the same text 4-6 times. ``FormatCode`` is a pure function
    of its arguments, so its results are reused: outputs are unchanged, only the time goes.
    """
    from yapf.yapflib import yapf_api
    real, memo = yapf_api.FormatCode, {}

    def format_code(text, *args, **kwargs):
        key = (text, repr(args), repr(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = real(text, *args, **kwargs)
        return memo[key]

    yapf_api.FormatCode = format_code
    yield
    yapf_api.FormatCode = real


@pytest.fixture(scope='session', autouse=True)
def _unique_experiment_names(_registered):
    """Give every Runner of the session its own experiment name.

    MMEngine names a run ``{config}_{timestamp}`` (to the second) and looks its logger, message hub and visualizer
    up by that name, so two tool runs started in one process within one second share the first one's visualizer
    and write their scalars into the first work dir. A command-line run is one per process (tools/sweep.py's
    in-process cells pass ``experiment_name`` themselves); tests call the tools' ``main()`` back to back.
    """
    import itertools

    from mmengine.runner import Runner
    real, count = Runner.__init__, itertools.count()

    def init(self, *args, **kwargs):
        if kwargs.get('experiment_name') is None:
            cfg = kwargs.get('cfg')
            name = osp.splitext(osp.basename(getattr(cfg, 'filename', None) or 'run'))[0]
            kwargs['experiment_name'] = f'{name}_{next(count)}'
        real(self, *args, **kwargs)

    Runner.__init__ = init
    yield
    Runner.__init__ = real


@pytest.fixture(scope='module', autouse=True)
def _frozen_heap(_registered):
    """Move what is alive at the start of a test module out of the cyclic garbage collector's reach.

    MMEngine's ``BaseDataset`` calls ``gc.collect()`` each time it builds a dataset; a full collection walks
    every object of the imported stack (torch, transformers, mmengine: ~1 s under load) and a tiny training run
    builds two datasets. Objects alive at a module's start (modules, session fixtures) are not garbage, so
    frozen they are skipped; what a test module allocates is still collected, here at the latest.
    """
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(scope='session')
def demo_assets():
    """README command 1's assets in ``data/demo`` (built on first use, then reused). An exclusive file lock keeps
    two xdist workers (or a tool they start) from building them at the same time."""
    import fcntl
    import hashlib
    import tempfile

    from mmmedfm.utils.demo_assets import make_demo_assets
    lock = osp.join(tempfile.gettempdir(), f'mmmedfm-demo-{hashlib.md5(ROOT.encode()).hexdigest()[:8]}.lock')
    with open(lock, 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            return make_demo_assets(osp.join(ROOT, 'data', 'demo'))
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope='session')
def tiny_clip_dir(tmp_path_factory):
    """A tiny random-initialised CLIPModel saved in PLIP's on-disk format."""
    from mmmedfm.utils.demo_assets import make_tiny_clip
    return make_tiny_clip(str(tmp_path_factory.mktemp('tiny-plip')), image_size=64, patch_size=16, hidden=32,
                          proj_dim=16)


@pytest.fixture(scope='session')
def sicapv2_root(tmp_path_factory):
    """A small synthetic SICAPv2 in the real layout (incl. malformed rows)."""
    from mmmedfm.utils.demo_assets import make_sicapv2
    return make_sicapv2(str(tmp_path_factory.mktemp('SICAPv2')), train_per_class=12, test_per_class=6,
                        wsis_per_class=3, size=64)


@pytest.fixture(scope='session')
def patchgastric_root(tmp_path_factory):
    """A small synthetic PatchGastric in the real layout: 5 subtype strings (one excluded) x 10 WSIs, 2-5 patches
    per WSI, plus two captions rows without patches."""
    from mmmedfm.utils.demo_assets import make_patchgastric
    return make_patchgastric(str(tmp_path_factory.mktemp('PatchGastric')), wsis_per_subtype=10, min_patches=2,
                             max_patches=5, size=64)


@pytest.fixture
def demo_cfg_options(tiny_clip_dir, sicapv2_root):
    """--cfg-options that point the demo config at the test fixtures and keep runs short."""
    opts = {'model.foundation_model': tiny_clip_dir, 'train_dataloader.dataset.num_shots': 4,
            'train_dataloader.batch_size': 8, 'train_dataloader.num_workers': 0,
            'val_dataloader.num_workers': 0, 'test_dataloader.num_workers': 0,
            'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2}
    opts['model.data_preprocessor.resize.size'] = opts['model.data_preprocessor.resize.crop_size'] = 64
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = sicapv2_root
    opts.update(NO_FIGURES)  # tests that look at the evaluation figures drop these keys
    return opts



@pytest.fixture(scope='session')
def tiny_open_clip_dir(tmp_path_factory):
    """A tiny open_clip CLIP in the hf-hub layout (QuiltNet/BiomedCLIP-style directory)."""
    from tests.tiny_models import make_tiny_open_clip
    return make_tiny_open_clip(str(tmp_path_factory.mktemp('tiny-open-clip')))


@pytest.fixture(scope='session')
def tiny_bert_dir(tmp_path_factory):
    from tests.tiny_models import make_tiny_bert
    return make_tiny_bert(str(tmp_path_factory.mktemp('tiny-bert')))


@pytest.fixture
def hf_offline(monkeypatch):
    """HF_HUB_OFFLINE=1 for this test (huggingface_hub reads the variable at import, so patch the constant)."""
    import huggingface_hub.constants as constants
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
