"""HFCLIPVision computes the last encoder layer for the CLS token alone when only the pooled output is needed:
same outputs and gradients as HF's full forward, and the full forward wherever that shortcut does not apply."""
import pytest
import torch
import torch.nn.functional as F

from mmmedfm.models.backbones.hf_clip_vision import cls_query_layer
from mmmedfm.models.peft import build_tower


def _tower(pretrained, peft=None, type='HFCLIPVision', **kw):
    torch.manual_seed(0)
    tower = build_tower(dict(type=type, pretrained=pretrained, peft=peft, **kw))
    for p in tower.parameters():  # LoRA's B starts at 0: give every adapter weight a value
        if p.requires_grad:
            p.data.normal_(0, 0.1)
    return tower


def _hf_reference(tower, x):
    """The embedding as HF computes it: the full ``CLIPVisionModel`` forward, its ``pooler_output``."""
    return F.normalize(tower.visual_projection(tower.vision_model(pixel_values=x).pooler_output), dim=-1)


def _count_full_forwards(tower):
    """Count HF's full encoder passes (a wrapper, not a hook: hooks switch the shortcut off)."""
    calls, encoder = [], tower.vision_model.encoder
    full = encoder.forward
    encoder.forward = lambda *a, **k: calls.append(1) or full(*a, **k)
    return calls


@pytest.mark.parametrize('peft', [[dict(type='LoRA', targets=['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1',
                                                               'fc2'])],
                                  [dict(type='BitFit'), dict(type='LayerNormAffine')]])
def test_cls_only_last_layer_equals_the_full_forward(tiny_clip_dir, peft):
    tower = _tower(tiny_clip_dir, peft).train()
    x = torch.randn(3, 3, 64, 64)
    ours = tower(x)[0]
    grads = torch.autograd.grad(ours.pow(3).sum(), [p for p in tower.parameters() if p.requires_grad])
    ref = _hf_reference(tower, x)
    ref_grads = torch.autograd.grad(ref.pow(3).sum(), [p for p in tower.parameters() if p.requires_grad])
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-7)
    # ...and the shortcut was taken (HF's encoder.forward never ran), with the last layer's adapters in use.
    calls = _count_full_forwards(tower)
    assert tower.forward_features(x)['pooled'].shape == (3, tower.vision_model.config.hidden_size)
    assert calls == []


def test_cls_query_layer_is_row_zero_of_the_layer(tiny_clip_dir):
    layer = _tower(tiny_clip_dir).vision_model.encoder.layers[-1].eval()
    hidden = torch.randn(2, 17, 32)
    torch.testing.assert_close(cls_query_layer(layer, hidden), layer(hidden, None)[:, 0], rtol=0, atol=1e-6)


@pytest.mark.parametrize('case', ['tokens', 'eager', 'vpt', 'off'])
def test_full_forward_where_the_shortcut_does_not_apply(tiny_clip_dir, case):
    kw = dict(attn_implementation='eager') if case == 'eager' else \
        dict(cls_only_last_layer=False) if case == 'off' else {}
    peft = [dict(type='VisualPromptTuning', num_tokens=2, deep=True)] if case == 'vpt' else None
    tower = _tower(tiny_clip_dir, peft, **kw).eval()
    calls = _count_full_forwards(tower)
    x = torch.randn(2, 3, 64, 64)
    feats = tower.forward_features(x, tokens=case == 'tokens')
    assert len(calls) == 1  # VPT's hooks on the last layer, eager attention, tokens asked, or switched off
    full = tower.vision_model(pixel_values=x)
    torch.testing.assert_close(feats['pooled'], full.pooler_output, rtol=0, atol=0)
    if case == 'tokens':
        torch.testing.assert_close(feats['tokens'], full.last_hidden_state[:, 1:], rtol=0, atol=0)


# open_clip towers (QuiltNet, OpenAI CLIP through open_clip): the same shortcut on the last ResidualAttentionBlock.
def _open_clip_tower(tiny_open_clip_dir, peft=None, **kw):
    return _tower(tiny_open_clip_dir, peft, type='OpenCLIPVision', **kw)


@pytest.mark.parametrize('peft', [[dict(type='LoRA', targets=['attn', 'c_fc', 'c_proj'])], [dict(type='BitFit')]])
def test_open_clip_cls_only_last_block_equals_the_full_forward(tiny_open_clip_dir, peft):
    tower = _open_clip_tower(tiny_open_clip_dir, peft).train()
    x = torch.randn(3, 3, *tower.visual.image_size)
    params = [p for p in tower.parameters() if p.requires_grad]
    assert tower._pooled_fast(x) is not None  # the shortcut applies to this tower
    ours = tower(x)[0]
    grads = torch.autograd.grad(ours.pow(3).sum(), params)
    # open_clip's own encode_image path: visual(x) (the full transformer), projection, L2 norm
    ref = F.normalize(tower.project(tower.visual(x)), dim=-1)
    ref_grads = torch.autograd.grad(ref.pow(3).sum(), params)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-6)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-7)


def test_open_clip_cls_query_block_sequence_first():
    from open_clip.transformer import ResidualAttentionBlock

    from mmmedfm.models.backbones.open_clip_vision import cls_query_block
    torch.manual_seed(0)
    block = ResidualAttentionBlock(32, 4, batch_first=False, ls_init_value=0.5).eval()
    hidden = torch.randn(2, 9, 32)
    full = block(hidden.transpose(0, 1)).transpose(0, 1)
    torch.testing.assert_close(cls_query_block(block, hidden, batch_first=False), full[:, 0], rtol=0, atol=1e-6)


def test_open_clip_full_forward_with_vpt_hooks(tiny_open_clip_dir):
    tower = _open_clip_tower(tiny_open_clip_dir, [dict(type='VisualPromptTuning', num_tokens=2, deep=True)]).eval()
    x = torch.randn(2, 3, *tower.visual.image_size)
    assert tower._pooled_fast(x) is None
    torch.testing.assert_close(tower.forward_features(x)['pooled'], tower.visual(x), rtol=0, atol=0)


def test_open_clip_full_forward_with_gradient_checkpointing(tiny_open_clip_dir):
    tower = _open_clip_tower(tiny_open_clip_dir).train()
    tower.visual.set_grad_checkpointing(True)
    x = torch.randn(2, 3, *tower.visual.image_size)
    assert tower._pooled_fast(x) is None
    torch.testing.assert_close(tower.forward_features(x)['pooled'], tower.visual(x), rtol=0, atol=0)
