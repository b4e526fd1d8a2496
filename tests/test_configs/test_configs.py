"""Every config parses; every demo config builds its model (tiny demo models in a temporary folder)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmmedfm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
DEMOS = [c for c in CONFIGS if c.startswith(osp.join('configs', 'demo')) and 'sweeps' not in c]
MATRIX_METHODS = ['zeroshot', 'zslp', 'lnaffine', 'bitfit', 'lora', 'fullft']
MATRIX_BACKBONES = ['plip', 'quiltnet', 'biomedclip', 'clip']


@pytest.mark.parametrize('path', CONFIGS)
def test_config_parses(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    if 'model' in cfg and not path.startswith(osp.join('configs', '_base_', 'datasets')):
        assert 'type' in cfg.model or path.startswith(osp.join('configs', '_base_'))


@pytest.mark.parametrize('method', MATRIX_METHODS)
def test_matrix_compares_backbones_on_equal_terms(method):
    """A method's configs for the backbones agree on everything but the model (data, schedule, evaluation),
    and on the model's PEFT recipe; how each file gets there (bases, variables) is free."""
    cfgs = {b: Config.fromfile(osp.join(ROOT, 'configs', 'peft_matrix', f'{method}_{b}_sicapv2.py')).to_dict()
            for b in MATRIX_BACKBONES}
    bases = {'plip': 'plip', 'quiltnet': 'quiltnet', 'biomedclip': 'biomedclip', 'clip': 'clip_vit_b16'}
    model_keys = set().union(*(Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'models', f'{m}.py')).keys()
                               for m in bases.values()))  # the model bases' own variables (e.g. lora_qkv)
    rest = [{k: v for k, v in c.items() if k not in model_keys} for c in cfgs.values()]
    assert all(r == rest[0] for r in rest[1:])
    heads = [{k: v for k, v in c['model']['head'].items() if k not in ('text_encoder', 'in_channels')}
             for c in cfgs.values()]
    assert all(h == heads[0] for h in heads[1:])
    where = ('targets', 'qkv_parts', 'out_proj')  # module names differ per tower; the recipe may not
    recipes = [[{k: v for k, v in p.items() if k not in where} for p in c['model']['backbone'].get('peft') or []]
               for c in cfgs.values()]
    assert all(r == recipes[0] for r in recipes[1:])


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
