"""Every backbone family loads from a local directory/file through the same code path as real weights,
and gives the numbers of the library's own forward on the same weights."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmmedfm.models.peft import build_tower
from mmmedfm.registry import MODELS
from tests.tiny_models import (TIMM_KWARGS, conch_parts, make_tiny_conch, make_tiny_dinov2, make_tiny_open_clip,
                               make_tiny_timm)


def test_open_clip_vision_and_text_match_open_clip(tiny_open_clip_dir):
    import open_clip
    ref = open_clip.create_model('local-dir:' + tiny_open_clip_dir).eval()
    x = torch.randn(3, 3, 32, 32)
    vis = MODELS.build(dict(type='OpenCLIPVision', pretrained=tiny_open_clip_dir)).eval()
    (emb, ) = vis(x)
    torch.testing.assert_close(emb, ref.encode_image(x, normalize=True))
    assert vis.embed_dim == 16 and vis.image_size == 32
    pooled = MODELS.build(dict(type='OpenCLIPVision', pretrained=tiny_open_clip_dir, out_type='pooled',
                               normalize=False)).eval()(x)[0]
    torch.testing.assert_close(pooled @ ref.visual.proj, ref.encode_image(x))
    text = MODELS.build(dict(type='OpenCLIPText', pretrained=tiny_open_clip_dir, batch_size=2))
    prompts = ['benign glands', 'a histopathology slide showing atrophic dense glands', 'G5']
    tokens = open_clip.get_tokenizer('local-dir:' + tiny_open_clip_dir)(prompts)
    torch.testing.assert_close(text.encode(prompts), ref.encode_text(tokens, normalize=True))
    assert text.logit_scale == pytest.approx(float(torch.tensor(2.5).exp()))


def test_open_clip_safetensors_dir_and_peft(tmp_path):
    d = make_tiny_open_clip(str(tmp_path / 'st'), seed=1, safetensors=True)
    vis = build_tower(dict(type='OpenCLIPVision', pretrained=d, peft=[dict(type='BitFit')]))
    trainable = [n for n, p in vis.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith('bias') for n in trainable)


def test_conch_vision_matches_its_parts(tmp_path):
    d = make_tiny_conch(str(tmp_path / 'conch'))
    trunk, pool, ln, proj = conch_parts()
    x = torch.randn(2, 3, 32, 32)
    expected = F.normalize(ln(pool(trunk.forward_features(x))[:, 0]) @ proj, dim=-1)
    for src in (d, osp.join(d, 'pytorch_model.bin')):
        model = MODELS.build(dict(type='CONCHVision', pretrained=src, image_size=32, width=32, depth=1,
                                  num_heads=2, embed_dim=16, pool_heads=2)).eval()
        torch.testing.assert_close(model(x)[0], expected)


def test_conch_wrong_shape_is_a_clear_error(tmp_path):
    d = make_tiny_conch(str(tmp_path / 'conch'))
    with pytest.raises(KeyError, match='not a CONCH-format checkpoint'):
        MODELS.build(dict(type='CONCHVision', pretrained=d, image_size=32, width=32, depth=2, num_heads=2,
                          embed_dim=16, pool_heads=2))


@pytest.mark.parametrize('registers', [0, 2])
def test_hf_vision_backbone_poolings(tmp_path, registers):
    from transformers import AutoModel
    d = make_tiny_dinov2(str(tmp_path / 'dino'), registers=registers)
    ref = AutoModel.from_pretrained(d).eval()
    x = torch.randn(2, 3, 32, 32)
    out = ref(pixel_values=x)
    expected = dict(cls=out.last_hidden_state[:, 0], pooler=out.pooler_output,
                    mean=out.last_hidden_state[:, 1 + registers:].mean(1))
    for pooling, value in expected.items():
        model = MODELS.build(dict(type='HFVisionBackbone', pretrained=d, pooling=pooling)).eval()
        torch.testing.assert_close(model(x)[0], value, msg=pooling)
    assert model.embed_dim == 32 and model.image_size == 32


@pytest.mark.parametrize('safetensors', [False, True])
def test_timm_vit_loads_checkpoint_file(tmp_path, safetensors):
    import timm
    path = make_tiny_timm(str(tmp_path / 'uni'), safetensors=safetensors)
    torch.manual_seed(0)
    ref = timm.create_model('vit_tiny_patch16_224', **TIMM_KWARGS).eval()
    x = torch.randn(2, 3, 32, 32)
    for src in (path, osp.dirname(path)):
        model = MODELS.build(dict(type='TimmViT', model_name='vit_tiny_patch16_224', pretrained=src,
                                  model_kwargs=TIMM_KWARGS, normalize=True)).eval()
        torch.testing.assert_close(model(x)[0], F.normalize(ref(x), dim=-1))
    assert model.embed_dim == 192 and model.image_size == 32


def test_hf_text_encoder_poolings(tiny_bert_dir):
    from transformers import AutoModel, AutoTokenizer
    texts = ['benign glands', 'isolated nest cells without lumen roseting patterns', 'G5']
    tok = AutoTokenizer.from_pretrained(tiny_bert_dir)(texts, padding=True, return_tensors='pt')
    out = AutoModel.from_pretrained(tiny_bert_dir).eval()(**tok)
    mask = tok['attention_mask'].unsqueeze(-1).float()
    expected = dict(pooler=out.pooler_output, cls=out.last_hidden_state[:, 0],
                    mean=(out.last_hidden_state * mask).sum(1) / mask.sum(1))
    for pooling, value in expected.items():
        enc = MODELS.build(dict(type='HFTextEncoder', pretrained=tiny_bert_dir, pooling=pooling, batch_size=2))
        torch.testing.assert_close(enc.encode(texts), value, msg=pooling)
    enc = MODELS.build(dict(type='HFTextEncoder', pretrained=tiny_bert_dir, normalize=True))
    torch.testing.assert_close(enc.encode(texts).norm(dim=-1), torch.ones(3))
    assert enc.embed_dim == 32 and not hasattr(enc, 'logit_scale')


def test_preprocessor_reads_each_family(tiny_open_clip_dir, tmp_path):
    from mmmedfm.models.utils.data_preprocessor import image_norm_from_model
    mean, std = image_norm_from_model(tiny_open_clip_dir)
    assert mean == pytest.approx([127.5, 102., 76.5]) and std == pytest.approx([51., 63.75, 76.5])
    mean, _ = image_norm_from_model(make_tiny_dinov2(str(tmp_path / 'dino')))
    assert mean == pytest.approx([255 * m for m in (0.485, 0.456, 0.406)])
    import open_clip
    mean, std = image_norm_from_model('openai', model_name='ViT-B-16')  # built-in name + tag: no download
    assert mean == pytest.approx([255 * m for m in open_clip.OPENAI_DATASET_MEAN])
