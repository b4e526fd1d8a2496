"""Config pipelines: SICAPv2 decodes only (model-side resize), CITE resizes with PIL and always jitters."""
import cv2
import numpy as np
import pytest
import torch
from PIL import Image
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


def test_sicapv2_test_pipeline_keeps_the_image_for_the_model_resize(image_file):
    """SICAPv2 pipelines only decode: the model base's data preprocessor resizes as the model's processor does."""
    pipe = _pipeline(Config.fromfile(CONFIGS[0]).test_pipeline)
    a = pipe(dict(img_path=image_file))['inputs']
    expected = torch.from_numpy(cv2.imread(image_file)).permute(2, 0, 1)  # BGR HWC -> CHW, untouched
    assert torch.equal(a, expected) and torch.equal(a, pipe(dict(img_path=image_file))['inputs'])


def test_patchgastric_test_pipeline_is_cites_pil_bilinear_resize(image_file):
    """CITE resizes the whole PIL image to 224x224 (bilinear, no crop); independent: PIL on the decoded array."""
    pipe = _pipeline(Config.fromfile(CONFIGS[1]).test_pipeline)
    a = pipe(dict(img_path=image_file))['inputs']
    expected = np.asarray(Image.fromarray(cv2.imread(image_file)).resize((224, 224), Image.BILINEAR))
    assert a.shape == (3, 224, 224) and torch.equal(a, torch.from_numpy(expected).permute(2, 0, 1))
    assert torch.equal(a, pipe(dict(img_path=image_file))['inputs'])


def test_cite_colour_jitter_is_always_applied(image_file):
    cfg = Config.fromfile(CONFIGS[1])
    types = [c['type'] for c in cfg.train_pipeline]
    assert 'ColorJitter' in types and 'RandomApply' not in types  # CITE applies it to every image
    no_geometry = [dict(c, prob=0.) if c['type'] in ('RandomFlip', 'RandomRot90') else c
                   for c in cfg.train_pipeline]
    test_out = _pipeline(cfg.test_pipeline)(dict(img_path=image_file))['inputs']
    without_jitter = [c for c in no_geometry if c['type'] != 'ColorJitter']
    assert torch.equal(_pipeline(without_jitter)(dict(img_path=image_file))['inputs'], test_out)
    np.random.seed(0)
    jittered = _pipeline(no_geometry)(dict(img_path=image_file))['inputs']
    assert jittered.shape == test_out.shape and not torch.equal(jittered, test_out)


def test_no_normalisation_in_pipelines():
    """Mean/std come from the model (VLMDataPreprocessor), so no pipeline normalises."""
    for config in CONFIGS:
        cfg = Config.fromfile(config)
        assert not any('Normalize' in c['type'] for c in cfg.train_pipeline + cfg.test_pipeline)
