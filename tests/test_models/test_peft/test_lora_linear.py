"""LoRA on nn.Linear (HF CLIP q/k/v) against HF peft on the same tiny CLIP, and peft-format export/import."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmmedfm.models.peft import merge_lora, unmerge_lora
from mmmedfm.models.peft.hf_export import export_peft_adapter, load_peft_adapter
from tests.test_models.test_peft._tiny import randomize_lora

TARGETS = ['q_proj', 'k_proj', 'v_proj']


def _tower(**kw):
    from mmmedfm.models.peft import build_tower
    return build_tower(dict(type='HFCLIPVision', **kw))


def _ours(tiny_clip_dir, **kw):
    peft = [dict(type='LoRA', rank=4, alpha=8, targets=TARGETS, **kw)]
    return _tower(pretrained=tiny_clip_dir, peft=peft, attn_implementation='eager').eval()


def _peft_clip(tiny_clip_dir, ours):
    """HF peft LoRA on a CLIPModel with our A/B weights copied in by name (``.default`` = peft's adapter)."""
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPModel
    base = CLIPModel.from_pretrained(tiny_clip_dir, attn_implementation='eager')
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS)).eval()
    theirs = dict(model.named_parameters())
    with torch.no_grad():
        for n, p in ours.named_parameters():
            if 'lora_' in n:
                key = 'base_model.model.' + n  # whole-weight layers are peft's own: same names
                theirs[key].copy_(p)
    return model


def _image_embed(peft_model, x):
    out = peft_model.base_model.model.vision_model(pixel_values=x).pooler_output
    return F.normalize(peft_model.base_model.model.visual_projection(out), dim=-1)


def test_matches_hf_peft_and_step0_and_merge(tiny_clip_dir):
    ours = _ours(tiny_clip_dir)
    frozen = _tower(pretrained=tiny_clip_dir, peft=[], attn_implementation='eager').eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], frozen(x)[0], rtol=0, atol=1e-6)  # B = 0: no change at step 0
        randomize_lora(ours)
        ref = _peft_clip(tiny_clip_dir, ours)
        y = ours(x)[0]
        assert (y - frozen(x)[0]).abs().max() > 1e-3  # the adapters do act
        assert (y - _image_embed(ref, x)).abs().max() <= 1e-5
        w0 = ours.vision_model.encoder.layers[0].self_attn.q_proj.base_layer.weight.clone()
        assert merge_lora(ours) == 6
        assert (ours(x)[0] - y).abs().max() <= 1e-5
        unmerge_lora(ours)
        torch.testing.assert_close(ours.vision_model.encoder.layers[0].self_attn.q_proj.base_layer.weight, w0)


def test_only_lora_params_get_gradients(tiny_clip_dir):
    ours = _ours(tiny_clip_dir, dropout=0.1).train()
    randomize_lora(ours)
    ours(torch.randn(2, 3, 64, 64))[0].sum().backward()
    with_grad = {n for n, p in ours.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    expected = {n for n, _ in ours.named_parameters() if 'lora_' in n}
    assert with_grad == expected and len(expected) == 2 * 3 * 2  # A, B x q/k/v x 2 layers
    assert all(not p.requires_grad for n, p in ours.named_parameters() if n not in expected)


@pytest.mark.parametrize('cls', ['CLIPModel', 'CLIPVisionModel'])
def test_exported_adapter_loads_in_peft(tiny_clip_dir, tmp_path, cls):
    import transformers
    from peft import PeftModel
    ours = _ours(tiny_clip_dir)
    randomize_lora(ours)
    out = export_peft_adapter(ours, str(tmp_path / 'adapter'), base_model_class=cls)
    base = getattr(transformers, cls).from_pretrained(tiny_clip_dir, attn_implementation='eager')
    model = PeftModel.from_pretrained(base, out).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        if cls == 'CLIPModel':
            theirs = _image_embed(model, x)
            ref = ours(x)[0]
        else:
            theirs = model(pixel_values=x).pooler_output
            ref = ours.vision_model(pixel_values=x).pooler_output
    assert (theirs - ref).abs().max() <= 1e-5
    # ... and back: a fresh model gets the same adapter.
    fresh = _ours(tiny_clip_dir)
    load_peft_adapter(fresh, out, base_model_class=cls)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x)[0], ours(x)[0], rtol=0, atol=1e-6)


def test_import_refuses_another_rank(tiny_clip_dir, tmp_path):
    ours = _ours(tiny_clip_dir)
    out = export_peft_adapter(ours, str(tmp_path / 'adapter'))
    other = _tower(pretrained=tiny_clip_dir, peft=[dict(type='LoRA', rank=2, alpha=8, targets=TARGETS)])
    with pytest.raises(ValueError, match='r=4.*rank=2'):
        load_peft_adapter(other, out)


def test_param_count_and_export_needs_lora(tiny_clip_dir, tmp_path):
    ours = _tower(pretrained=tiny_clip_dir, peft=[dict(type='LoRA', targets=['out_proj'])])
    assert ours.peft_summary['LoRA']['params'] == 2 * (32 * 4 + 4 * 32)  # 2 layers x (A + B), hidden 32, r 4
    copy.deepcopy(ours)  # adapted models stay deep-copyable (EMA, TTA wrappers)
    with pytest.raises(ValueError, match='no LoRA'):
        export_peft_adapter(_tower(pretrained=tiny_clip_dir, peft=[]), str(tmp_path / 'a'))
