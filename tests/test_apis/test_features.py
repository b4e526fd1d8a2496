"""Feature extraction: numbers, cache hit, cache invalidation, safe save/load, zero-shot classifier."""
import glob

import pytest
import torch
from mmengine.config import Config

from mmmedfm.apis import FeatureSet, extract_features, zero_shot_classifier

CONFIG = 'configs/peft/zeroshot_plip_sicapv2.py'


@pytest.fixture
def cfg(tiny_clip_dir, sicapv2_root, tmp_path):
    cfg = Config.fromfile(CONFIG)
    cfg.model.foundation_model = tiny_clip_dir
    cfg.model.head.cache_dir = str(tmp_path / 'text')
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = sicapv2_root
        cfg[f'{split}_dataloader'].num_workers = 0
    # the model-side resize (configs/_base_/models/plip.py: image_resize), small for speed
    cfg.model.data_preprocessor.resize = dict(size=64, crop_size=64, interpolation='bicubic')
    cfg.train_dataloader.dataset.num_shots = 4
    return cfg


def test_features_match_clip_and_cache(cfg, tmp_path, tiny_clip_dir):
    from transformers import CLIPModel
    from mmmedfm.registry import DATASETS, MODELS
    cache = str(tmp_path / 'feat')
    feats = extract_features(cfg, 'test', cache_dir=cache, batch_size=7, progress=False)
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(feats) == len(ds) == 24 and feats.features.shape == (24, 16)
    assert feats.labels.tolist() == [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert feats.wsi_ids[0] == ds.get_data_info(0)['wsi_id'] and feats.classes == ['NC', 'G3', 'G4', 'G5']
    # independent computation: CLIPModel.get_image_features on the preprocessed first 3 images
    pre = MODELS.build(dict(type='VLMDataPreprocessor', pretrained=tiny_clip_dir,
                            resize=cfg.model.data_preprocessor.resize))
    batch = pre(dict(inputs=[ds[i]['inputs'] for i in range(3)], data_samples=[ds[i]['data_samples']
                                                                              for i in range(3)]), False)
    clip = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    with torch.no_grad():
        ref = clip.get_image_features(pixel_values=batch['inputs'])
    ref = getattr(ref, 'pooler_output', ref)
    torch.testing.assert_close(feats.features[:3], torch.nn.functional.normalize(ref, dim=-1), atol=1e-5,
                               rtol=1e-4)
    assert len(glob.glob(cache + '/*/index.json')) == 1

    def no_build(*a, **k):
        raise AssertionError('cache hit must not build the model')
    import mmmedfm.registry
    orig = mmmedfm.registry.MODELS.build
    mmmedfm.registry.MODELS.build = no_build
    try:
        again = extract_features(cfg, 'test', cache_dir=cache, progress=False)
    finally:
        mmmedfm.registry.MODELS.build = orig
    torch.testing.assert_close(again.features, feats.features, rtol=0, atol=0)
    assert again.image_ids == feats.image_ids

    # a changed resize or file list gives a new key
    cfg.model.data_preprocessor.resize.interpolation = 'bilinear'
    extract_features(cfg, 'test', cache_dir=cache, progress=False)
    assert len(glob.glob(cache + '/*/index.json')) == 2
    extract_features(cfg, 'train', cache_dir=cache, progress=False)
    cfg.train_dataloader.dataset.num_shots = 2
    small = extract_features(cfg, 'train', cache_dir=cache, progress=False)
    assert len(small) == 8 and len(glob.glob(cache + '/*/index.json')) == 4
    assert small.features.norm(dim=-1).sub(1).abs().max() < 1e-5


def test_featureset_roundtrip(tmp_path):
    fs = FeatureSet(torch.nn.functional.normalize(torch.randn(3, 4), dim=-1), torch.tensor([0, 1, 1]),
                    ['a.jpg', 'b.jpg', 'c.jpg'], ['s1', 's1', ''], ['x', 'y'])
    fs.save(str(tmp_path / 'f'))
    assert sorted(p.name for p in (tmp_path / 'f').iterdir()) == ['index.json', 'part_00000-of-00001.safetensors']
    back = FeatureSet.load(str(tmp_path / 'f'))
    torch.testing.assert_close(back.features, fs.features)
    assert back.labels.dtype == torch.long and back.image_ids == fs.image_ids and back.wsi_ids == fs.wsi_ids
    r = back.reordered(['c.jpg', 'a.jpg', 'b.jpg'])
    assert r.labels.tolist() == [1, 0, 1] and r.wsi_ids == ['', 's1', 's1']


def test_zero_shot_classifier_equals_head(cfg):
    from mmmedfm.registry import MODELS
    weights, scale = zero_shot_classifier(cfg)
    model = MODELS.build(cfg.model)
    torch.testing.assert_close(weights, model.head.class_embeddings)
    assert scale == pytest.approx(float(model.head.log_logit_scale.exp()))
    assert weights.shape == (4, 16)


@pytest.mark.e2e
def test_extract_tool(cfg, tmp_path, capsys):
    from tests.helpers import load_tool
    path = tmp_path / 'cfg.py'
    cfg.dump(str(path))
    tool = load_tool('tools/extract_features.py')
    feats = tool.main([str(path), '--split', 'test', '--cache-dir', str(tmp_path / 'c'), '--no-progress',
                       '--out', str(tmp_path / 'out')])
    assert len(feats) == 24 and (tmp_path / 'out' / 'index.json').exists()
    assert 'test: 24 images' in capsys.readouterr().out
