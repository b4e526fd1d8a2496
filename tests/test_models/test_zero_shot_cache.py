"""Prompt ensembles equal a hand computation; the text-embedding disk cache is hit and keyed correctly."""
import pytest
import torch

from mmmedfm.cache import text_cache_key
from mmmedfm.models.utils.text_cache import cached_class_embeddings
from mmmedfm.models.utils.zero_shot import build_class_prompts, build_zero_shot_weights
from mmmedfm.registry import MODELS

TEMPLATES = ['a histopathology slide showing [CLS]', 'histopathology image of [CLS]']
DESCRIPTIONS = {'NC': ['benign glands'], 'G3': ['atrophic dense glands', 'small glands']}


def _hand_ensemble(encode_one, class_prompts):
    """Seed-notebook formula, one prompt at a time: mean of unit-norm embeddings, re-normalised."""
    protos = []
    for prompts in class_prompts:
        embs = [encode_one(p) / encode_one(p).norm() for p in prompts]
        mean = sum(embs) / len(embs)
        protos.append(mean / mean.norm())
    return torch.stack(protos)


def test_ensemble_equals_hand_computation_open_clip(tiny_open_clip_dir, tmp_path):
    class_prompts = build_class_prompts(['NC', 'G3'], TEMPLATES, DESCRIPTIONS)
    assert [len(p) for p in class_prompts] == [2, 4]
    encoder_cfg = dict(type='OpenCLIPText', pretrained=tiny_open_clip_dir, batch_size=3)
    encoder = MODELS.build(encoder_cfg)
    expected = _hand_ensemble(lambda p: encoder.encode([p])[0], class_prompts)
    weights, scale = cached_class_embeddings(encoder_cfg, class_prompts, str(tmp_path))
    torch.testing.assert_close(weights, expected)
    assert scale == encoder.logit_scale
    torch.testing.assert_close(build_zero_shot_weights(encoder.encode, class_prompts), expected)


def test_text_cache_hit_and_key(tiny_clip_dir, tmp_path, monkeypatch):
    class_prompts = build_class_prompts(['NC', 'G3'], TEMPLATES, DESCRIPTIONS)
    cfg = dict(type='HFCLIPText', pretrained=tiny_clip_dir)
    first, scale = cached_class_embeddings(cfg, class_prompts, str(tmp_path))
    assert len(list(tmp_path.glob('class_*/index.json'))) == 1

    def no_build(*a, **k):
        raise AssertionError('the text encoder must not be built on a cache hit')
    monkeypatch.setattr(MODELS, 'build', no_build)
    second, scale2 = cached_class_embeddings(dict(cfg, batch_size=1), class_prompts, str(tmp_path))
    torch.testing.assert_close(second, first, rtol=0, atol=0)
    assert scale2 == scale
    other = build_class_prompts(['NC', 'G3'], TEMPLATES[:1], DESCRIPTIONS)
    assert text_cache_key(cfg, other) != text_cache_key(cfg, class_prompts)
    assert text_cache_key(dict(cfg, max_length=10), class_prompts) != text_cache_key(cfg, class_prompts)


def test_bert_encoder_in_head_uses_default_scale(tiny_bert_dir, tmp_path):
    head = MODELS.build(dict(type='TextEmbeddingHead', num_classes=2, cache_dir=str(tmp_path),
                             text_encoder=dict(type='HFTextEncoder', pretrained=tiny_bert_dir),
                             prompts=dict(classes=['benign glands', 'isolated nest cells'])))
    enc = MODELS.build(dict(type='HFTextEncoder', pretrained=tiny_bert_dir))
    expected = torch.nn.functional.normalize(enc.encode(['benign glands', 'isolated nest cells']), dim=-1)
    torch.testing.assert_close(head.class_embeddings, expected)
    assert float(head.log_logit_scale.exp()) == pytest.approx(100.)
