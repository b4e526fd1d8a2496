import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


@pytest.fixture(scope='session', autouse=True)
def _registered():
    from mmmedfm.utils import register_all_modules
    register_all_modules()


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
