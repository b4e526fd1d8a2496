"""Every config parses; every demo config builds its model (tiny demo models in a temporary folder)."""
import copy
import functools
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmmedfm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
DEMOS = [c for c in CONFIGS if c.startswith(osp.join('configs', 'demo')) and c.endswith('_demo.py')]
PEFT = sorted(c for c in CONFIGS if c.startswith(osp.join('configs', 'peft', '')))
# configs/peft names are {tuning}-{head}_{model}_{training}_sicapv2 (configs/README.md); the model part names the
# model base, the tuning part the backbone's PEFT recipe ('lora': the model base's own q/k/v targets), the head
# part one of the experiment base's heads (zeroshot/zslp/linearprobe imply theirs).
MODEL_BASES = {'plip': 'plip', 'quiltnet': 'quiltnet', 'biomedclip': 'biomedclip', 'clip-b16': 'clip_vit_b16',
               'conch': 'conch'}
TUNING = {'zeroshot': [], 'zslp': [], 'linearprobe': [], 'bitfit': [dict(type='BitFit')],
          'lnaffine': [dict(type='LayerNormAffine', scope='blocks')], 'lora': 'lora_qkv', 'fullft': None,
          'vpt1': [dict(type='VisualPromptTuning', num_tokens=1, deep=False, dropout=0., init='uniform')]}
HEADS = {'zs': 'zs_head', 'zslp': 'zslp_head', 'linear': 'linear_head'}
IMPLIED_HEAD = {'zeroshot': 'zs', 'zslp': 'zslp', 'linearprobe': 'linear'}
# The adaptor demo trains tiny random encoders' embeddings for 30 epochs at a higher lr (said in its comment).
DEMO_RECIPE_CHANGES = {'adaptor_dinov2-b-biolinkbert_20e_patchgastric': {'optim_wrapper'}}


@functools.lru_cache(maxsize=None)
def _config(path: str) -> Config:
    """The merged config of ``path`` (relative to the repository), parsed once per session; do not modify."""
    return Config.fromfile(osp.join(ROOT, path))


@pytest.mark.parametrize('path', CONFIGS)
def test_config_parses(path):
    cfg = _config(path)
    if 'model' in cfg and not path.startswith(osp.join('configs', '_base_', 'datasets')):
        assert 'type' in cfg.model or path.startswith(osp.join('configs', '_base_'))


@pytest.mark.parametrize('path', PEFT)
def test_peft_config_is_its_bases_plus_what_its_name_says(path):
    """Every PEFT-family config inherits [its model base, the SICAPv2 experiment base] and adds only the tuning
    method and head of its name (and full fine-tuning's lr): data, schedule and evaluation come from the one
    experiment base, so backbones and methods compare on equal terms by construction."""
    tuning, model, *_ = osp.basename(path)[:-len('.py')].split('_')
    tuning, _, head = tuning.partition('-')
    head = head or IMPLIED_HEAD[tuning]
    model_base = osp.join('configs', '_base_', 'models', f'{MODEL_BASES[model]}.py')
    experiment = osp.join('configs', '_base_', 'experiments', 'sicapv2_16shot.py')
    assert [osp.normpath(osp.join(osp.dirname(path), b)) for b in Config._get_base_files(osp.join(ROOT, path))] \
        == [model_base, experiment]
    bases = {**_config(experiment).to_dict(), **_config(model_base).to_dict()}
    peft = bases[TUNING[tuning]] if isinstance(TUNING[tuning], str) else TUNING[tuning]
    expected = copy.deepcopy(bases)
    expected['model']['backbone']['peft'] = [peft] if isinstance(TUNING[tuning], str) else peft
    expected['model']['head'] = {**expected['model'].get('head', {}), **bases[HEADS[head]]}
    if tuning == 'fullft':  # the PEFT schedule's 1e-3 wrecks pretrained weights
        expected['optim_wrapper']['optimizer']['lr'] = 1e-5
    assert _config(path).to_dict() == expected


def test_users_headline_path_is_the_peft_headline():
    """`configs/cite/plip_lora_16shot.py` (the users' command) merges to the headline's config, whose key recipe
    values are pinned here (seed notebook: LoRA r=4 q/k/v, Adam 1e-3, 20 epochs, batch 32, 16 shots seed 1;
    frozen zero-shot text head)."""
    old = _config(osp.join('configs', 'cite', 'plip_lora_16shot.py'))
    new = _config(osp.join('configs', 'peft', 'lora-zs_plip_16shot-20e_sicapv2.py'))
    assert old.to_dict() == new.to_dict()
    assert new.model.foundation_model == 'vinid/plip'
    assert new.model.backbone.peft == [dict(type='LoRA', rank=4, alpha=4, dropout=0.,
                                            targets=['q_proj', 'k_proj', 'v_proj'])]
    assert new.model.head == dict(type='TextEmbeddingHead', text_encoder=dict(type='HFCLIPText'), num_classes=4,
                                  prompts=dict(dataset='SICAPv2Dataset'))
    assert new.optim_wrapper.optimizer == dict(type='Adam', lr=1e-3, weight_decay=0.)
    assert (new.train_cfg.max_epochs, new.train_dataloader.batch_size) == (20, 32)
    dataset = new.train_dataloader.dataset
    assert (dataset.data_root, dataset.num_shots, dataset.shot_seed) == ('data/SICAPv2', 16, 1)
    assert new.train_pipeline == [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


@pytest.mark.parametrize('path', DEMOS)
def test_demo_config_inherits_its_real_config(path):
    """A demo config `{name}_demo.py` inherits `{name}.py` (first base) and changes weights, data roots and sizes
    only: the recipe (PEFT, head type and prompts, optimizer, pipelines, metrics) is the real config's."""
    name = osp.basename(path)[:-len('_demo.py')]
    (real, ) = glob.glob(osp.join('configs', '*', f'{name}.py'), root_dir=ROOT)
    assert osp.normpath(osp.join(osp.dirname(path), Config._get_base_files(osp.join(ROOT, path))[0])) == real
    demo, real = _config(path), _config(real)
    assert demo.model.get('backbone', {}).get('peft') == real.model.get('backbone', {}).get('peft')
    assert demo.model.get('head', {}).get('type') == real.model.get('head', {}).get('type')
    assert demo.model.get('head', {}).get('prompts') == real.model.get('head', {}).get('prompts')
    for key in {'optim_wrapper', 'val_evaluator', 'train_pipeline', 'test_pipeline', 'custom_hooks'} - \
            DEMO_RECIPE_CHANGES.get(name, set()):
        assert demo.get(key) == real.get(key), key


@pytest.fixture(scope='module')
def demo_models(tmp_path_factory):
    from mmmedfm.utils.demo_assets import make_demo_models
    return str(make_demo_models(str(tmp_path_factory.mktemp('demo')))['model']).rsplit('/', 1)[0]


def _relocate(obj, root):
    """Replace the `data/demo` prefix of every string in a config value by ``root``."""
    if isinstance(obj, dict):
        return {k: _relocate(v, root) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_relocate(v, root) for v in obj)
    if isinstance(obj, str) and obj.startswith('data/demo/'):
        return osp.join(root, obj[len('data/demo/'):])
    return obj


@pytest.mark.parametrize('path', DEMOS)
def test_demo_config_builds_its_model(path, demo_models):
    from mmmedfm.utils.cli import read_config
    cfg = read_config(osp.join(ROOT, path))  # as the tools read it
    model_cfg = _relocate(cfg.model.to_dict(), demo_models)
    if isinstance(model_cfg.get('head'), dict) and 'text_encoder' in model_cfg['head']:
        model_cfg['head']['cache_dir'] = osp.join(demo_models, 'text_cache')  # shared: encoded once per model
    model = MODELS.build(model_cfg)
    dataset = cfg.train_dataloader.dataset
    assert dataset.get('source', dataset).data_root.startswith('data/demo/')
    if model_cfg['type'] == 'AdaptorVL':  # trains from cached embeddings: no backbone, everything trainable
        assert all(p.requires_grad for p in model.parameters())
        assert dataset.unimodal.vision.pretrained.startswith('data/demo/')
        return
    peft = model_cfg['backbone'].get('peft')
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    if peft == [] and model_cfg.get('neck') is None and not model_cfg['head'].get('trainable_embeddings') \
            and model_cfg['head']['type'] == 'TextEmbeddingHead':
        assert trainable == []  # zero-shot: nothing to train
    else:
        assert trainable
