import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmmedfm import registry


def test_registries_are_children_of_mmpretrain():
    from mmpretrain import registry as mmpre
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'DATA_SAMPLERS', 'OPTIMIZERS'):
        ours = getattr(registry, name)
        assert ours.parent is getattr(mmpre, name)
        assert ours.scope == 'mmmedfm'


def test_default_scope_is_mmmedfm():
    assert DefaultScope.get_current_instance().scope_name == 'mmmedfm'


def test_config_may_name_mmpretrain_and_our_components():
    head = registry.MODELS.build(dict(type='LinearClsHead', num_classes=3, in_channels=8))
    assert head.__class__.__module__.startswith('mmpretrain')
    lora = registry.PEFT_METHODS.build(dict(type='LoRA', rank=2))  # PEFT methods: a registry of their own
    assert lora.__class__.__module__.startswith('mmmedfm') and registry.MODELS.get('LoRA') is None
    # ImageClassifier resolves to ours (mmpretrain's + `backbone.peft`)
    assert registry.MODELS.get('ImageClassifier').__module__.startswith('mmmedfm')
    from mmpretrain.datasets.transforms import PackInputs
    from mmpretrain.evaluation import Accuracy

    from mmmedfm.datasets import SICAPv2Dataset
    assert registry.DATASETS.get('SICAPv2Dataset') is SICAPv2Dataset
    assert registry.TRANSFORMS.get('PackInputs') is PackInputs  # mmpretrain transform through the parent
    assert registry.METRICS.get('Accuracy') is Accuracy


def test_unknown_type_is_a_clear_error():
    with pytest.raises(KeyError, match='NoSuchBackbone'):
        registry.MODELS.build(dict(type='NoSuchBackbone'))


def test_config_inheritance_with_mmpretrain_base(tmp_path):
    cfg = Config.fromfile('configs/peft/lora-zs_plip_16shot-20e_sicapv2.py')
    # from our bases
    assert cfg.model.type == 'VLMClassifier'
    assert cfg.model.backbone.peft[0].type == 'LoRA'
    assert cfg.train_dataloader.dataset.num_shots == 16
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    # from mmpretrain::_base_/default_runtime.py, overridden where we set it
    assert cfg.default_hooks.timer.type == 'IterTimerHook'
    assert cfg.visualizer.type == 'UniversalVisualizer'
    assert cfg.default_scope == 'mmmedfm'
    assert cfg.default_hooks.logger.interval == 10


def test_demo_config_only_changes_paths():
    real = Config.fromfile('configs/peft/lora-zs_plip_16shot-20e_sicapv2.py')
    demo = Config.fromfile('configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py')
    assert demo.model.foundation_model == 'data/demo/tiny-plip'
    assert demo.train_dataloader.dataset.data_root == 'data/demo/SICAPv2'
    demo.model.foundation_model = real.model.foundation_model
    for split in ('train', 'val', 'test'):
        demo[f'{split}_dataloader'].dataset.data_root = real[f'{split}_dataloader'].dataset.data_root
    assert demo.model == real.model
    assert demo.train_dataloader == real.train_dataloader
    assert demo.optim_wrapper == real.optim_wrapper


def test_no_name_shadows_the_stack_with_another_contract():
    """A name we register that mmpretrain/mmengine also has must be a subclass of theirs (same contract,
    e.g. our ``ImageClassifier`` adds ``backbone.peft``); anything else gets a name of its own."""
    from mmengine.registry import Registry
    shadows = {}
    for name in dir(registry):
        reg = getattr(registry, name)
        if isinstance(reg, Registry) and reg.parent is not None:
            for key, cls in reg.module_dict.items():
                parent = reg.parent.get(key)
                if parent is not None:
                    shadows[key] = issubclass(cls, parent)
    assert shadows == {'ImageClassifier': True, 'LoadImageFromFile': True}
