"""The headline configs (configs/cite/plip_*_16shot.py) take their LoRA targets from the model base: swapping
the one model `_base_` line of plip_lora_16shot.py builds every headline config on each VLM model base."""
import glob
import os.path as osp
import shutil

import pytest
from mmengine.config import Config

from mmmedfm.models.peft import lora_layers
from mmmedfm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADLINES = sorted(osp.basename(p) for p in glob.glob(osp.join(ROOT, 'configs', 'cite', 'plip_*_16shot.py')))
BASE_LINE = "'../_base_/models/plip.py'"


def _tiny(base, folder):
    from mmmedfm.utils.demo_assets import make_tiny_clip
    from mmmedfm.utils.tiny_models import make_tiny_open_clip
    if base == 'plip':
        return make_tiny_clip(folder)
    if base == 'biomedclip':  # open_clip TimmModel image tower (fused qkv), as BiomedCLIP's
        return make_tiny_open_clip(folder, timm_model_name='vit_tiny_patch16_224')
    return make_tiny_open_clip(folder, layers=2)  # nn.MultiheadAttention towers: QuiltNet, OpenAI CLIP


@pytest.mark.parametrize('base', ['plip', 'quiltnet', 'biomedclip', 'clip_vit_b16'])
def test_every_headline_config_builds_on_every_model_base(base, tmp_path):
    assert len(HEADLINES) == 5
    configs = str(tmp_path / 'configs')
    shutil.copytree(osp.join(ROOT, 'configs', 'cite'), osp.join(configs, 'cite'))
    shutil.copytree(osp.join(ROOT, 'configs', '_base_'), osp.join(configs, '_base_'))
    lora_path = osp.join(configs, 'cite', 'plip_lora_16shot.py')
    text = open(lora_path).read()
    assert text.count(BASE_LINE) == 1  # the one line a user changes
    with open(lora_path, 'w') as f:
        f.write(text.replace(BASE_LINE, f"'../_base_/models/{base}.py'"))
    weights = _tiny(base, str(tmp_path / 'model'))
    expected_lora = Config.fromfile(osp.join(configs, '_base_', 'models', f'{base}.py')).lora_qkv
    for name in HEADLINES:
        cfg = Config.fromfile(osp.join(configs, 'cite', name))
        model_cfg = cfg.model.to_dict()
        model_cfg.update(foundation_model=weights)
        model_cfg['head']['cache_dir'] = str(tmp_path / 'text_cache')
        model = MODELS.build(model_cfg)
        trainable = [n for n, p in model.backbone.named_parameters() if p.requires_grad]
        assert trainable, name
        if name == 'plip_lora_16shot.py':
            assert cfg.model.backbone.peft == [expected_lora]
            assert lora_layers(model.backbone) and all('lora_' in n for n in trainable)
