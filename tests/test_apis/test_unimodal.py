"""Unimodal cache (sharded, resumable, rank-split) and adaptor training from the cache only."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmmedfm.apis.unimodal import extract_unimodal
from mmmedfm.cache import INDEX, ShardedArrays
from mmmedfm.registry import DATASETS

DEMO = 'configs/demo/adaptor_dinov2-b-biolinkbert_20e_patchgastric_demo.py'


@pytest.fixture(scope='module')
def adaptor_cfg(tmp_path_factory, patchgastric_root):
    from mmmedfm.utils.demo_assets import DEMO_CAPTION_WORDS
    from mmmedfm.utils.tiny_models import make_tiny_bert, make_tiny_dinov2
    root = tmp_path_factory.mktemp('adaptor')
    vision = make_tiny_dinov2(str(root / 'dinov2'))
    text = make_tiny_bert(str(root / 'bert'), extra_words=DEMO_CAPTION_WORDS)
    cfg = Config.fromfile(DEMO)
    opts = {}
    for split in ('train', 'val', 'test'):
        p = f'{split}_dataloader.dataset.'
        opts.update({p + 'source.data_root': patchgastric_root, p + 'unimodal.vision.pretrained': vision,
                     p + 'unimodal.text.pretrained': text, p + 'unimodal.cache_dir': str(root / 'cache')})
    opts.update({'train_cfg.max_epochs': 4, 'train_cfg.val_interval': 4, 'work_dir': str(root / 'work'),
                 'default_hooks.checkpoint.interval': 4})
    cfg.merge_from_dict(opts)
    return cfg


def test_sharded_rank_split_extraction_matches_encoders(adaptor_cfg):
    from mmmedfm.registry import DATASETS, MODELS
    # Two "ranks" run one after the other: rank 1 writes its shards only, rank 0 the rest and the index.
    out = extract_unimodal(adaptor_cfg, 'train', rank=1, world_size=2, progress=False)
    assert not osp.isfile(osp.join(out['image'], INDEX))
    assert sorted(os.listdir(out['image'])) == ['part_00001-of-00002.safetensors']
    out = extract_unimodal(adaptor_cfg, 'train', rank=0, world_size=2, progress=False)
    images, texts = ShardedArrays(out['image']), ShardedArrays(out['text'])
    assert images.index['sizes'][0] == 64 and len(images) == sum(images.index['sizes'])
    # Independent computation: the encoders run directly on the dataset's images / the unique captions.
    ds_cfg = adaptor_cfg.train_dataloader.dataset
    source = DATASETS.build(Config(ds_cfg.source).to_dict())
    assert images.index['image_ids'] == [source.get_data_info(i)['img_path'] for i in range(len(source))]
    backbone = MODELS.build(dict(ds_cfg.unimodal.vision)).eval()
    pre = MODELS.build(dict(type='VLMDataPreprocessor', pretrained=ds_cfg.unimodal.vision.pretrained))
    from mmengine.dataset import pseudo_collate
    data = pre(pseudo_collate([source[i] for i in (0, 70)]), False)
    with torch.no_grad():
        want = backbone(data['inputs'])[0]
    got = torch.stack([images.get('pooled', 0), images.get('pooled', 70)]).float()
    assert images.load('pooled').dtype == torch.float16
    torch.testing.assert_close(got, want, atol=2e-2, rtol=1e-2)
    from transformers import AutoModel, AutoTokenizer
    caps = texts.index['captions']
    assert caps == sorted({source.get_data_info(i)['caption'] for i in range(len(source))})
    tok = AutoTokenizer.from_pretrained(ds_cfg.unimodal.text.pretrained)(
        caps[:3], padding='max_length', max_length=32, truncation=True, return_tensors='pt')
    with torch.no_grad():
        hidden = AutoModel.from_pretrained(ds_cfg.unimodal.text.pretrained)(**tok).last_hidden_state
    torch.testing.assert_close(texts.load('tokens')[:3].float(), hidden, atol=2e-2, rtol=1e-2)
    assert torch.equal(texts.load('mask')[:3].long(), tok['attention_mask'])


def test_extraction_resumes_missing_shards_only(adaptor_cfg, monkeypatch):
    import mmmedfm.apis.extraction as um
    out = extract_unimodal(adaptor_cfg, 'train', progress=False)
    shard = osp.join(out['image'], 'part_00001-of-00002.safetensors')
    before = ShardedArrays(out['image']).load('pooled')
    os.remove(shard)
    os.remove(osp.join(out['image'], INDEX))
    calls = []
    real = um.image_token_forward
    monkeypatch.setattr(um, 'image_token_forward', lambda *a: calls.append(len(a[1])) or real(*a))
    extract_unimodal(adaptor_cfg, 'train', progress=False)
    assert sum(calls) == len(before) - 64  # only the deleted shard was encoded again
    torch.testing.assert_close(ShardedArrays(out['image']).load('pooled'), before)


@pytest.mark.e2e
def test_adaptor_trains_from_cache_only(adaptor_cfg, monkeypatch, tmp_path, capsys):
    from tests.helpers import load_tool
    # val is carved from the training slides (the same cache as train); test holds the evaluation slides.
    train_folders = extract_unimodal(adaptor_cfg, 'train', progress=False)
    assert extract_unimodal(adaptor_cfg, 'val', progress=False) == train_folders
    extract_unimodal(adaptor_cfg, 'test', progress=False)

    def forbidden(*args, **kwargs):
        raise AssertionError('an encoder was built or run during adaptor training')

    import transformers
    from mmmedfm.models.backbones import HFTextEncoder, HFVisionBackbone
    with monkeypatch.context() as m:
        for target in (HFVisionBackbone, HFTextEncoder):
            m.setattr(target, '__init__', forbidden)
        m.setattr(transformers.BertModel, 'forward', forbidden)
        m.setattr(transformers.Dinov2Model, 'forward', forbidden)
        m.setattr(transformers.AutoModel, 'from_pretrained', forbidden)
        cfg_path = str(tmp_path / 'cfg.py')
        adaptor_cfg.dump(cfg_path)
        runner = load_tool('tools/train.py').main([cfg_path])
    model = runner.model
    assert not any(isinstance(mod, (HFVisionBackbone, HFTextEncoder, transformers.PreTrainedModel))
                   for mod in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    ckpt = osp.join(adaptor_cfg.work_dir, 'epoch_4.pth')
    assert osp.isfile(ckpt)
    logs = [json.loads(line) for f in sorted(os.listdir(adaptor_cfg.work_dir)) if osp.isdir(
        osp.join(adaptor_cfg.work_dir, f)) for line in open(osp.join(adaptor_cfg.work_dir, f, 'vis_data', 'scalars.json'))]
    assert any('retrieval/i2t_R@1' in r for r in logs) and any('loss' in r for r in logs)
    # Evaluation: retrieval table, a valid zero-shot classifier (prompts through the frozen text encoder, then
    # the adaptor's text branch), few-shot probes on adapted and raw features.
    from mmmedfm.apis.adaptor import evaluate_adaptor
    res = evaluate_adaptor(adaptor_cfg, ckpt, shots=(1, ), seeds=(0, ))
    # zero-shot metrics against a hand computation on the trained in-memory model, one image at a time
    from mmmedfm.apis.adaptor import adaptor_class_embeddings
    from mmmedfm.models.utils.zero_shot import build_class_prompts
    test = DATASETS.build(Config(adaptor_cfg.test_dataloader['dataset']).to_dict())
    meta = DATASETS.get(adaptor_cfg.test_dataloader['dataset']['source']['type']).METAINFO
    model.eval()
    with torch.no_grad():
        class_emb = adaptor_class_embeddings(model, adaptor_cfg.test_dataloader['dataset']['unimodal'],
                                             build_class_prompts(meta['classes'], meta.get('templates')))
        img = torch.cat([model.encode_image(test.image(i)[None]) for i in range(len(test))])
        probs = (float(model.scale()) * img @ class_emb.t()).softmax(-1).double().numpy()
    y = test.labels.numpy()
    assert res['zero_shot']['accuracy'] == pytest.approx(np.mean(probs.argmax(1) == y), abs=1e-6)
    assert res['zero_shot']['nll'] == pytest.approx(-np.mean(np.log(probs[np.arange(len(y)), y])), rel=1e-4)
    assert set(res['few_shot']) == {('adapted', 1), ('raw', 1)}
    assert res['retrieval']['num_captions'] == len({i['caption'] for i in runner.test_dataloader.dataset.items})
    # Checkpoints were selected on training slides only: no evaluation slide in the validation part.
    val_wsis = {i['wsi_id'] for i in runner.val_dataloader.dataset.items}
    assert val_wsis and not val_wsis & {i['wsi_id'] for i in runner.test_dataloader.dataset.items}
    assert not val_wsis & {i['wsi_id'] for i in runner.train_dataloader.dataset.items}
