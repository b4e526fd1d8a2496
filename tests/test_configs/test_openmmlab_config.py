"""The OpenMMLab user's config: mmpretrain's ViT-B/16 model base + our SICAPv2 + `backbone.peft`, one key."""
import os.path as osp

from mmengine.config import Config

from mmmedfm.models.classifiers import ImageClassifier
from mmmedfm.registry import MODELS
from mmmedfm.utils.cli import read_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REAL = osp.join(ROOT, 'configs', 'openmmlab', 'lora-linear_vit-b16-mae_16shot-20e_sicapv2.py')
DEMO = osp.join(ROOT, 'configs', 'demo', 'lora-linear_vit-b16-mae_16shot-20e_sicapv2_demo.py')


def test_config_is_the_mmpretrain_base_plus_one_key():
    raw = Config.fromfile(REAL)
    import mmpretrain
    base = Config.fromfile(osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs', '_base_', 'models',
                                    'vit-base-p16.py')).model
    assert raw.model._scope_ == 'mmpretrain'  # what MMEngine tags an inherited dict with
    assert raw.model.backbone.type == base.backbone.type == 'VisionTransformer'
    assert raw.model.head.type == base.head.type and raw.train_dataloader.dataset.type == 'SICAPv2Dataset'
    assert read_config(REAL).model._scope_ == 'mmmedfm'  # the tools build it in our scope: peft applies


def test_demo_builds_lora_on_mmpretrain_vit():
    cfg = read_config(DEMO)
    model = MODELS.build(cfg.model.to_dict())
    assert isinstance(model, ImageClassifier)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f'backbone.layers.{i}.attn.qkv.lora_{ab}.{p}.weight' for i in (0, 1) for ab in 'AB'
                         for p in 'qv'} | {'head.layers.head.weight', 'head.layers.head.bias'}
