"""Every model family loads from its downloaded folder(s) with ``HF_HUB_OFFLINE=1`` and an empty HF cache
(companion models included), and every miss is one ``ModelNotAvailableError`` naming the id/folder and the key."""
import os
import shutil

import pytest
import torch

from mmmedfm.models.utils.hub import ModelNotAvailableError
from mmmedfm.registry import MODELS
from mmmedfm.utils.tiny_models import (BIOMEDBERT_ID, TIMM_KWARGS, make_tiny_bert, make_tiny_biomedclip,
                                       make_tiny_conch, make_tiny_dinov2, make_tiny_timm)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """Offline, with HF_HOME/HF_HUB_CACHE pointing at an empty folder (nothing can come from a cache)."""
    import huggingface_hub.constants as constants
    cache = tmp_path / 'empty_hf_home'
    cache.mkdir()
    for var, value in (('HF_HOME', cache), ('HF_HUB_CACHE', cache / 'hub'), ('HF_HUB_OFFLINE', '1')):
        monkeypatch.setenv(var, str(value))
    monkeypatch.setattr(constants, 'HF_HOME', str(cache))
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(cache / 'hub'))
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
    yield cache
    assert not any(cache.rglob('*.json')), 'something was fetched into the empty cache'


@pytest.fixture(scope='module')
def biomedclip(tmp_path_factory):
    """data/models/{BiomedCLIP, BiomedNLP-BiomedBERT-base-uncased-abstract} as downloaded (the BERT beside it)."""
    root = tmp_path_factory.mktemp('models')
    bert = make_tiny_bert(str(root / BIOMEDBERT_ID.split('/')[-1]))
    return make_tiny_biomedclip(str(root / 'BiomedCLIP'), bert), bert


def _embed(backbone, size):
    with torch.no_grad():
        return backbone(torch.rand(1, 3, size, size))[0]


def test_biomedclip_loads_with_companion_beside(biomedclip, empty_cache):
    folder, bert = biomedclip
    vision = MODELS.build(dict(type='OpenCLIPVision', pretrained=folder))
    text = MODELS.build(dict(type='OpenCLIPText', pretrained=folder))
    # reference: open_clip with the companion named explicitly, weights from the same checkpoint
    import open_clip
    ref = open_clip.create_model('local-dir:' + folder, text_cfg=dict(
        hf_model_name=bert, hf_tokenizer_name=bert, hf_proj_type='mlp',
        hf_pooler_type='cls_last_hidden_state_pooler', context_length=32, hf_model_pretrained=False)).eval()
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(vision(x)[0], torch.nn.functional.normalize(ref.encode_image(x), dim=-1), atol=1e-5)
    assert text.embed_dim == 16


def test_biomedclip_companion_named_in_config(biomedclip, tmp_path, empty_cache):
    import json
    folder, bert = biomedclip
    moved = shutil.copytree(folder, tmp_path / 'elsewhere' / 'BiomedCLIP')
    cfg_file = moved / 'open_clip_config.json'
    cfg = json.loads(cfg_file.read_text())
    cfg['model_cfg']['text_cfg']['hf_model_name'] = os.path.abspath(bert)
    cfg_file.write_text(json.dumps(cfg))
    assert MODELS.build(dict(type='OpenCLIPText', pretrained=str(moved))).embed_dim == 16


def test_biomedclip_missing_companion_names_it(biomedclip, tmp_path, empty_cache):
    folder, _ = biomedclip
    alone = shutil.copytree(folder, tmp_path / 'alone' / 'BiomedCLIP')
    for kind in ('OpenCLIPVision', 'OpenCLIPText'):
        with pytest.raises(ModelNotAvailableError, match=BIOMEDBERT_ID) as err:
            MODELS.build(dict(type=kind, pretrained=str(alone)))
        assert str(tmp_path / 'alone' / BIOMEDBERT_ID.split('/')[-1]) in str(err.value)


def test_other_families_load_from_folders(tmp_path, tiny_clip_dir, tiny_open_clip_dir, tiny_bert_dir,
                                          empty_cache):
    dinov2 = make_tiny_dinov2(str(tmp_path / 'dinov2'))
    conch = make_tiny_conch(str(tmp_path / 'CONCH'))
    uni = make_tiny_timm(str(tmp_path / 'UNI'))
    built = [MODELS.build(c) for c in (
        dict(type='HFCLIPVision', pretrained=tiny_clip_dir), dict(type='HFCLIPText', pretrained=tiny_clip_dir),
        dict(type='OpenCLIPVision', pretrained=tiny_open_clip_dir),
        dict(type='OpenCLIPText', pretrained=tiny_open_clip_dir),
        dict(type='HFVisionBackbone', pretrained=dinov2), dict(type='CONCHVision', pretrained=conch, image_size=32, width=32, depth=1, num_heads=2,
             embed_dim=16, pool_heads=2),
        dict(type='TimmViT', model_name='vit_tiny_patch16_224', pretrained=uni, model_kwargs=TIMM_KWARGS),
        dict(type='HFTextEncoder', pretrained=tiny_bert_dir),
        dict(type='VLMDataPreprocessor', pretrained=tiny_clip_dir))]
    import timm
    ref = timm.create_model('vit_tiny_patch16_224', **TIMM_KWARGS)
    ref.load_state_dict(torch.load(uni))
    with torch.no_grad():
        assert torch.allclose(built[6].model(torch.ones(1, 3, 32, 32)), ref.eval()(torch.ones(1, 3, 32, 32)))


def test_incomplete_folder_is_model_not_available(tmp_path, tiny_clip_dir, tiny_open_clip_dir, empty_cache):
    only_config = tmp_path / 'plip'
    only_config.mkdir()
    shutil.copy(os.path.join(tiny_clip_dir, 'config.json'), only_config)
    with pytest.raises(ModelNotAvailableError, match=str(only_config)):
        MODELS.build(dict(type='HFCLIPVision', pretrained=str(only_config)))
    open_clip_config_only = tmp_path / 'quiltnet'
    open_clip_config_only.mkdir()
    shutil.copy(os.path.join(tiny_open_clip_dir, 'open_clip_config.json'), open_clip_config_only)
    with pytest.raises(ModelNotAvailableError, match=str(open_clip_config_only)):
        MODELS.build(dict(type='OpenCLIPVision', pretrained=str(open_clip_config_only)))


def test_error_names_the_key_that_set_the_part(tmp_path, empty_cache):
    """CITE-style model: image tower from foundation_model, text tower set on its own."""
    clip = make_tiny_bert(str(tmp_path / 'bert'))  # a present text model; the image tower is the missing one
    cfg = dict(type='VLMClassifier', foundation_model=str(tmp_path / 'no-clip'),
               backbone=dict(type='HFCLIPVision'), data_preprocessor=dict(type='VLMDataPreprocessor', mean=[0] * 3,
                                                                          std=[1] * 3),
               head=dict(type='TextEmbeddingHead', num_classes=2, prompts=dict(classes=['a', 'b']),
                         text_encoder=dict(type='HFTextEncoder', pretrained=clip)))
    with pytest.raises(ModelNotAvailableError, match='model.foundation_model='):
        MODELS.build(cfg)
    cfg['foundation_model'] = None
    cfg['backbone']['pretrained'] = str(tmp_path / 'no-clip')
    with pytest.raises(ModelNotAvailableError, match='model.backbone.pretrained='):
        MODELS.build(cfg)
    cfg['backbone']['pretrained'] = None
    cfg['foundation_model'] = 'org/clip-not-here'
    cfg['head']['text_encoder']['pretrained'] = 'michiyasunaga/BioLinkBERT-not-here'
    from mmmedfm.models.classifiers.vlm_classifier import part_weight_keys
    assert part_weight_keys(cfg)['text_encoder'] == ('model.head.text_encoder.pretrained',
                                                     'michiyasunaga/BioLinkBERT-not-here')
    assert part_weight_keys(cfg)['backbone'] == ('model.foundation_model', 'org/clip-not-here')


def test_adaptor_key_reaches_every_dataset():
    from mmmedfm.utils.cli import read_config
    cfg = read_config('configs/adaptor/adaptor_uni-biolinkbert_20e_patchgastric.py',
                      {'unimodal.vision.pretrained': 'local/UNI/pytorch_model.bin',
                       'unimodal.text.pretrained': 'local/BioLinkBERT-large'})
    for split in ('train', 'val', 'test'):
        u = cfg[f'{split}_dataloader'].dataset.unimodal
        assert (u.vision.pretrained, u.text.pretrained) == ('local/UNI/pytorch_model.bin', 'local/BioLinkBERT-large')
