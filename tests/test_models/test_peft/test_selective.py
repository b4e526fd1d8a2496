"""Selective methods pick exactly the parameters their rule names (checked against independent name lists)."""
import pytest
import torch

from mmmedfm.models.peft import apply_peft
from tests.test_models.test_peft._tiny import hf_clip_vision, open_clip_vit, timm_vit


def _trainable(m):
    return {n for n, p in m.named_parameters() if p.requires_grad}


def test_bitfit_lnaffine_fullft_trainableparams():
    m = hf_clip_vision()
    apply_peft(m, [dict(type='BitFit')])
    assert _trainable(m) == {n for n, _ in m.named_parameters() if n.endswith('.bias')}
    apply_peft(m, [dict(type='LayerNormAffine')])
    assert _trainable(m) == {n for n, _ in m.named_parameters() if 'norm' in n.split('.')[-2]}
    with pytest.raises(ValueError, match='peft=None'):  # one spelling of full fine-tuning: no PEFT
        apply_peft(m, [dict(type='FullFineTune')])
    apply_peft(m, [dict(type='TrainableParams', patterns=[r'post_layernorm'])])
    assert _trainable(m) == {'post_layernorm.weight', 'post_layernorm.bias'}
    with pytest.raises(ValueError, match='match no parameter'):
        apply_peft(m, [dict(type='TrainableParams', patterns=['nope'])])


@pytest.mark.parametrize('build,prefix', [(hf_clip_vision, 'encoder.layers'), (open_clip_vit, 'transformer.resblocks'),
                                          (timm_vit, 'blocks')])
def test_last_k_blocks(build, prefix):
    m = build()
    summary = apply_peft(m, [dict(type='LastKBlocks', k=1)])
    expected = {n for n, _ in m.named_parameters() if n.startswith(prefix + '.1.')}
    assert _trainable(m) == expected and summary['LastKBlocks']['params'] == \
        sum(p.numel() for n, p in m.named_parameters() if n in expected)
    with pytest.raises(ValueError, match='only 2 blocks'):
        apply_peft(build(), [dict(type='LastKBlocks', k=3)])


def test_combination_gradients():
    """LoRA + BitFit: exactly the union gets gradients."""
    m = timm_vit()
    apply_peft(m, [dict(type='LoRA', targets=['qkv'], qkv_parts=['q', 'v']), dict(type='BitFit')])
    with torch.no_grad():
        for n, p in m.named_parameters():
            if 'lora_B' in n:
                p.normal_()
    m(torch.randn(2, 3, 32, 32)).sum().backward()
    got = {n for n, p in m.named_parameters() if p.grad is not None}
    assert got == {n for n, _ in m.named_parameters() if 'lora_' in n or n.endswith('.bias')}
