"""Visual prompt tuning on the four ViT families: sequence lengths inside the blocks, deep replacement,
deterministic init/eval, effect on the CLS output, parameter counts."""
import copy

import pytest
import torch
from torch import nn

from mmmedfm.models.peft import apply_peft
from tests.test_models.test_peft._tiny import hf_clip_vision, mmpretrain_vit, open_clip_vit, timm_vit

# (builder, block list, forward) — 32x32 images, 8x8 patches: 16 patches + CLS; width 32, 2 blocks.
FAMILIES = {
    'hf_clip': (hf_clip_vision, lambda m: m.encoder.layers, lambda m, x: m(pixel_values=x).pooler_output),
    'open_clip': (open_clip_vit, lambda m: m.transformer.resblocks, lambda m, x: m(x)),
    'timm': (timm_vit, lambda m: m.blocks, lambda m, x: m(x)),
    'mmpretrain': (mmpretrain_vit, lambda m: m.layers, lambda m, x: m(x)[-1]),
}


def _tower(**kw):
    from mmmedfm.models.peft import build_tower
    return build_tower(dict(type='HFCLIPVision', **kw))


def _hidden(args, kwargs):
    return args[0] if args else next(v for v in kwargs.values() if torch.is_tensor(v))


def _record(blocks):
    """Record every block's input and output (hooks registered after VPT's, so they see what blocks see)."""
    seen = dict(inputs=[], outputs=[])
    for b in blocks:
        b.register_forward_pre_hook(lambda m, a, k: seen['inputs'].append(_hidden(a, k).detach()),
                                    with_kwargs=True)
        b.register_forward_hook(lambda m, a, o: seen['outputs'].append((o[0] if isinstance(o, tuple) else o)
                                                                      .detach()))
    return seen


@pytest.mark.parametrize('family', list(FAMILIES))
@pytest.mark.parametrize('deep', [False, True])
def test_tokens_inserted_and_replaced(family, deep):
    build, blocks_of, fwd = FAMILIES[family]
    plain = build()
    plain.eval()  # mmpretrain's train() override returns None: no chaining
    model = copy.deepcopy(plain)
    summary = apply_peft(model, [dict(type='VisualPromptTuning', num_tokens=3, deep=deep)])
    assert summary['VisualPromptTuning']['params'] == 3 * 32 * (2 if deep else 1)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ['vpt.prompts']
    model.eval()
    seen = _record(blocks_of(model))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        y, y_plain = fwd(model, x), fwd(plain, x)
    assert [t.shape[1] for t in seen['inputs']] == [1 + 3 + 16] * 2
    assert seen['outputs'][-1].shape[1] == 1 + 16  # prompts never leave the block stack
    prompts = model.vpt.prompts
    torch.testing.assert_close(seen['inputs'][0][:, 1:4], prompts[0].expand(2, -1, -1))
    layer1 = seen['inputs'][1][:, 1:4]
    if deep:  # layer 1 sees its own prompts, not layer 0's outputs at those positions
        torch.testing.assert_close(layer1, prompts[1].expand(2, -1, -1))
    else:
        torch.testing.assert_close(layer1, seen['outputs'][0][:, 1:4])
    # patch tokens enter the first block unchanged, CLS output depends on the prompts
    assert (y - y_plain).abs().max() > 1e-4


def test_seq_first_transformer():
    """open_clip Transformer with batch_first=False runs the blocks sequence-first."""
    from open_clip.transformer import Transformer
    torch.manual_seed(0)
    holder = nn.Module()
    holder.transformer = Transformer(width=32, layers=2, heads=2, batch_first=False)
    apply_peft(holder, [dict(type='VisualPromptTuning', num_tokens=2, deep=True, init='xavier')])
    seen = _record(holder.transformer.resblocks)
    x = torch.randn(3, 5, 32)  # (N, L, D) in, transposed inside
    y = holder.transformer(x)
    assert y.shape == (3, 5, 32) and [t.shape for t in seen['inputs']] == [(7, 3, 32)] * 2
    torch.testing.assert_close(seen['inputs'][1][1:3], holder.vpt.prompts[1].unsqueeze(1).expand(-1, 3, -1))


def test_init_is_seeded_bounded_and_eval_deterministic():
    cfg = [dict(type='VisualPromptTuning', num_tokens=4, deep=True, dropout=0.5)]
    torch.manual_seed(123)
    a = timm_vit()
    torch.manual_seed(7)
    apply_peft(a, cfg)
    b = timm_vit()
    torch.manual_seed(7)
    apply_peft(b, cfg)
    torch.testing.assert_close(a.vpt.prompts, b.vpt.prompts)  # from the seed, never from data
    bound = (6. / (3 * 8 * 8 + 32)) ** .5  # VPT's uniform init: patch 8x8, width 32
    assert a.vpt.prompts.abs().max() <= bound and a.vpt.prompts.abs().max() > bound / 2
    x = torch.randn(2, 3, 32, 32)
    a.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x), a(x), rtol=0, atol=0)
        a.train()
        assert (a(x) - a(x)).abs().max() > 0  # prompt dropout acts in training only
    a.vpt.prompts.sum().backward()
    torch.testing.assert_close(a.vpt.prompts.grad, torch.ones_like(a.vpt.prompts))  # a trainable leaf


def test_hf_backbone_config_and_errors(tiny_clip_dir):
    from mmmedfm.models.backbones import HFCLIPVision
    m = _tower(pretrained=tiny_clip_dir, peft=[dict(type='VisualPromptTuning', num_tokens=2),
                                                     dict(type='LayerNormAffine')])
    assert m.peft_summary['VisualPromptTuning']['params'] == 2 * 32
    m(torch.randn(1, 3, 64, 64))[0].sum().backward()
    assert m.vpt.prompts.grad.abs().sum() > 0 and m.vision_model.post_layernorm.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='once'):
        apply_peft(m, [dict(type='VisualPromptTuning')])
    from transformers import CLIPConfig, CLIPModel
    whole = CLIPModel(CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                  num_attention_heads=2),
                                 vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                    num_attention_heads=2, image_size=32, patch_size=8)))
    with pytest.raises(ValueError, match='blocks=<dotted name>'):  # image and text towers: ambiguous
        apply_peft(whole, [dict(type='VisualPromptTuning')])
    apply_peft(whole, [dict(type='VisualPromptTuning', blocks='vision_model.encoder.layers')])


def test_ema_copy_has_its_own_prompts(tiny_clip_dir):
    """MMEngine's EMAHook deep-copies the model: the copy's hooks must use the copy's prompts."""
    from types import SimpleNamespace

    from mmengine.hooks import EMAHook
    model = _tower(pretrained=tiny_clip_dir, peft=[dict(type='VisualPromptTuning', num_tokens=2)]).eval()
    runner = SimpleNamespace(model=model, iter=0, epoch=0, max_iters=10, max_epochs=1)
    hook = EMAHook(ema_type='ExponentialMovingAverage', momentum=0.5)
    hook.before_run(runner)
    ema = hook.ema_model.module
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = ema(x)[0]
        delta = torch.randn_like(ema.vpt.prompts)  # not a constant: the blocks' pre-LayerNorm would remove it
        ema.vpt.prompts.add_(delta)  # changing the copy's prompts changes the copy's output...
        changed = ema(x)[0]
        assert (changed - before).abs().max() > 1e-3
        model.vpt.prompts.add_(delta)  # ...and changing the original's leaves the copy's output alone
        torch.testing.assert_close(ema(x)[0], changed)
        ema.vpt.prompts.sub_(delta)
    for step in range(3):  # prompts and EMA prompts evolve independently: ema = (1 - m) * ema + m * p
        with torch.no_grad():
            model.vpt.prompts.add_(torch.randn_like(model.vpt.prompts))
        prev = ema.vpt.prompts.detach().clone()
        runner.iter = step
        hook.after_train_iter(runner, step)
        new = model.vpt.prompts.detach()
        expected = new if step == 0 else prev * 0.5 + new * 0.5  # BaseAveragedModel copies at its first update
        torch.testing.assert_close(ema.vpt.prompts, expected)
    assert (ema.vpt.prompts - model.vpt.prompts).abs().max() > 1e-3
    with torch.no_grad():  # the copy's output is the model's output with the copy's prompts
        ref = copy.deepcopy(model)
        ref.vpt.prompts.copy_(ema.vpt.prompts)
        torch.testing.assert_close(ema(x)[0], ref(x)[0])
