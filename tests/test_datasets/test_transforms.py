"""Config pipelines: deterministic test pipeline (resize, no centre crop), optional colour jitter."""
import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config

from mmmedfm.registry import TRANSFORMS

CONFIGS = ['configs/_base_/datasets/sicapv2_fewshot.py', 'configs/_base_/datasets/patchgastric_fewshot.py']


def _pipeline(cfgs):
    return Compose([TRANSFORMS.build(c) for c in cfgs])


@pytest.fixture
def image_file(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)  # not square
    path = str(tmp_path / 'patch.png')
    cv2.imwrite(path, img)
    return path


@pytest.mark.parametrize('config', CONFIGS)
def test_test_pipeline_is_deterministic_resize_without_crop(config, image_file):
    cfg = Config.fromfile(config)
    pipe = _pipeline(cfg.test_pipeline)
    a = pipe(dict(img_path=image_file))['inputs']
    b = pipe(dict(img_path=image_file))['inputs']
    assert a.shape == (3, 224, 224) and torch.equal(a, b)
    # Independent: the whole image (nothing cropped) resized bilinearly to 224x224, BGR -> CHW.
    expected = cv2.resize(cv2.imread(image_file), (224, 224), interpolation=cv2.INTER_LINEAR)
    assert torch.equal(a, torch.from_numpy(expected).permute(2, 0, 1))


def test_colour_jitter_is_optional(image_file):
    cfg = Config.fromfile(CONFIGS[1])
    assert cfg.train_pipeline[4]['type'] == 'RandomApply' and cfg.train_pipeline[4]['prob'] == 0.
    off = [dict(c, prob=0.) if 'prob' in c else c for c in cfg.train_pipeline]
    test_out = _pipeline(cfg.test_pipeline)(dict(img_path=image_file))['inputs']
    assert torch.equal(_pipeline(off)(dict(img_path=image_file))['inputs'], test_out)
    on = [dict(c, prob=1.) if c['type'] == 'RandomApply' else dict(c, prob=0.) if 'prob' in c else c
          for c in cfg.train_pipeline]
    np.random.seed(0)
    jittered = _pipeline(on)(dict(img_path=image_file))['inputs']
    assert jittered.shape == test_out.shape and not torch.equal(jittered, test_out)


def test_no_normalisation_in_pipelines():
    """Mean/std come from the model (VLMDataPreprocessor), so no pipeline normalises."""
    for config in CONFIGS:
        cfg = Config.fromfile(config)
        assert not any('Normalize' in c['type'] for c in cfg.train_pipeline + cfg.test_pipeline)
