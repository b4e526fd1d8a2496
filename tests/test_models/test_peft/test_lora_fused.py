"""LoRA on fused q/k/v projections: timm ``attn.qkv`` linears and open_clip ``nn.MultiheadAttention``, against
HF peft (whole weight) and a hand formula (per-part selection)."""
import copy

import pytest
import torch
from torch import nn

from mmmedfm.models.peft import LoRAMultiheadAttention, apply_peft, merge_lora, unmerge_lora
from tests.test_models.test_peft._tiny import open_clip_vit, randomize_lora, timm_vit


def _peft(model, targets, ours, rank=4, alpha=8):
    """HF peft on a copy of the base model, with our LoRA weights copied in (peft adds ``.default``)."""
    from peft import LoraConfig, get_peft_model
    ref = get_peft_model(model, LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets)).eval()
    theirs = dict(ref.named_parameters())
    with torch.no_grad():
        for n, p in ours.named_parameters():
            if 'lora_' in n:
                key = n if '.default.' in n else n.replace('.weight', '.default.weight')  # peft's layers: as is
                theirs['base_model.model.' + key].copy_(p)
    return ref


@pytest.mark.parametrize('build,target', [(timm_vit, 'qkv'), (open_clip_vit, 'attn')])
def test_whole_fused_weight_matches_peft(build, target):
    base = build().eval()
    ours = copy.deepcopy(base)
    apply_peft(ours, [dict(type='LoRA', rank=4, alpha=8, targets=[target])])
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), base(x), rtol=0, atol=1e-6)  # step 0
    randomize_lora(ours)
    if target == 'attn':
        # peft 0.21.2 adds the out_proj delta of nn.MultiheadAttention twice (huggingface/peft PR #3774, open),
        # so peft is the reference for in_proj only; out_proj is checked against a hand-merged layer below.
        with torch.no_grad():
            for n, p in ours.named_parameters():
                if 'out_proj.lora_B' in n:
                    p.zero_()
    ref = _peft(copy.deepcopy(base), [target], ours)
    for grad in (False, True):  # no_grad + eval is where nn.MultiheadAttention takes its fast path
        with torch.set_grad_enabled(grad):
            y, y_ref = ours(x), ref(x)
            assert (y - y_ref).abs().max() <= 1e-5 and (y - base(x)).abs().max() > 1e-3
    with torch.no_grad():
        merge_lora(ours)
        assert (ours(x) - y).abs().max() <= 1e-5
        unmerge_lora(ours)
        assert (ours(x) - y).abs().max() <= 1e-5


def test_qkv_parts_linear_hand_formula():
    torch.manual_seed(0)
    base = nn.Linear(8, 24)
    holder = nn.Module()
    holder.qkv = copy.deepcopy(base)
    apply_peft(holder, [dict(type='LoRA', rank=2, alpha=4, targets=['qkv'], qkv_parts=['q', 'v'])])
    randomize_lora(holder)
    layer, x = holder.qkv, torch.randn(5, 8)
    a, b = {p: layer.lora_A[p].weight for p in 'qv'}, {p: layer.lora_B[p].weight for p in 'qv'}
    delta = torch.cat([2 * b['q'] @ a['q'], torch.zeros(8, 8), 2 * b['v'] @ a['v']])  # scaling 4 / 2
    expected = x @ (base.weight + delta).T + base.bias
    assert (layer(x) - expected).abs().max() <= 1e-5
    assert set(n for n, p in holder.named_parameters() if p.requires_grad) == \
        {f'qkv.lora_{m}.{p}.weight' for m in 'AB' for p in 'qv'}
    with pytest.raises(ValueError, match='out_features divisible by 3'):
        apply_peft(nn.Sequential(nn.Linear(8, 10)), [dict(type='LoRA', targets=['0'], qkv_parts=['q'])])


def test_qkv_parts_mha_hand_formula_and_weights():
    torch.manual_seed(0)
    base = nn.MultiheadAttention(16, 2, batch_first=True)
    adapted = LoRAMultiheadAttention(copy.deepcopy(base), rank=2, alpha=2, qkv_parts=['k'])
    randomize_lora(adapted)
    # Hand-merged reference: in_proj rows of k get B_k A_k, out_proj gets B A.
    ref = copy.deepcopy(base)
    with torch.no_grad():
        ref.in_proj_weight[16:32] += adapted.lora_B['k'].weight @ adapted.lora_A['k'].weight
        out = adapted.base_layer.out_proj
        ref.out_proj.weight += out.lora_B.weight @ out.lora_A.weight
    q, kv = torch.randn(3, 4, 16), torch.randn(3, 6, 16)
    mask = torch.tensor([[False] * 5 + [True]] * 3)
    y, w = adapted(q, kv, kv, key_padding_mask=mask)
    y_ref, w_ref = ref(q, kv, kv, key_padding_mask=mask)
    assert (y - y_ref).abs().max() <= 1e-5 and (w - w_ref).abs().max() <= 1e-6
    assert adapted.batch_first and adapted.embed_dim == 16  # attribute reads fall through


def test_mha_only_lora_gets_gradients_and_bad_targets():
    model = open_clip_vit()
    apply_peft(model, [dict(type='LoRA', targets=['attn'])])
    randomize_lora(model)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    got = {n for n, p in model.named_parameters() if p.grad is not None}
    assert got == {n for n, _ in model.named_parameters() if 'lora_' in n} and len(got) == 2 * 4
    with pytest.raises(ValueError, match='out_proj of an nn.MultiheadAttention'):
        apply_peft(open_clip_vit(), [dict(type='LoRA', targets=['out_proj'])])
    with pytest.raises(ValueError, match='dropout'):
        apply_peft(open_clip_vit(), [dict(type='LoRA', targets=['attn'], dropout=0.1)])
