"""The headline family (configs/peft/*-zs_plip_*.py: frozen zero-shot text head) takes its LoRA targets from the
model base: swapping a config's one model `_base_` line builds it on each VLM model base."""
import glob
import os.path as osp
import shutil

import pytest
from mmengine.config import Config

from mmmedfm.models.peft import lora_layers
from mmmedfm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEADLINES = sorted(osp.basename(p) for p in glob.glob(osp.join(ROOT, 'configs', 'peft', '*-zs_plip_*.py')))
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
    shutil.copytree(osp.join(ROOT, 'configs', 'peft'), osp.join(configs, 'peft'))
    shutil.copytree(osp.join(ROOT, 'configs', '_base_'), osp.join(configs, '_base_'))
    weights = _tiny(base, str(tmp_path / 'model'))
    expected_lora = Config.fromfile(osp.join(configs, '_base_', 'models', f'{base}.py')).lora_qkv
    for name in HEADLINES:
        path = osp.join(configs, 'peft', name)
        text = open(path).read()
        assert text.count(BASE_LINE) == 1  # the one line a user changes
        with open(path, 'w') as f:
            f.write(text.replace(BASE_LINE, f"'../_base_/models/{base}.py'"))
        cfg = Config.fromfile(path)
        model_cfg = cfg.model.to_dict()
        model_cfg.update(foundation_model=weights)
        model_cfg['head']['cache_dir'] = str(tmp_path / 'text_cache')
        model = MODELS.build(model_cfg)
        trainable = [n for n, p in model.backbone.named_parameters() if p.requires_grad]
        assert trainable, name
        if name.startswith('lora-'):
            assert cfg.model.backbone.peft == [expected_lora]
            assert lora_layers(model.backbone) and all('lora_' in n for n in trainable)
