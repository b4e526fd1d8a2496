"""HFPeft: every HF peft tuner through peft's injection, checked against peft's own `get_peft_model` on the same
weights (adapter weights randomised in peft's model, then copied into ours by name)."""
import copy

import pytest
import torch

from mmmedfm.models.peft import apply_peft
from tests.test_models.test_peft._tiny import hf_clip_vision

CASES = {
    'DoRA': (dict(r=4, lora_alpha=8), 'LoraConfig', dict(r=4, lora_alpha=8, use_dora=True)),
    'IA3': (dict(feedforward_modules=['fc2']), 'IA3Config', dict(feedforward_modules=['fc2'])),
    'LoHa': (dict(r=2, alpha=4), 'LoHaConfig', dict(r=2, alpha=4)),
}
TARGETS = {'DoRA': ['q_proj', 'v_proj'], 'IA3': ['k_proj', 'v_proj', 'fc2'], 'LoHa': ['q_proj', 'v_proj']}


@pytest.mark.parametrize('method', list(CASES))
def test_matches_peft_model(method):
    import peft
    ours_kw, config_cls, ref_kw = CASES[method]
    base = hf_clip_vision().eval()
    ref = peft.get_peft_model(copy.deepcopy(base),
                              getattr(peft, config_cls)(target_modules=TARGETS[method], **ref_kw)).eval()
    ours = copy.deepcopy(base)
    summary = apply_peft(ours, [dict(type='HFPeft', method=method, targets=TARGETS[method], **ours_kw)])
    theirs = {n[len('base_model.model.'):]: p for n, p in ref.named_parameters() if p.requires_grad}
    assert set(summary['HFPeft']['names']) == set(theirs)  # same adapter parameters, same names
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n, p in ours.named_parameters():
            if n in theirs:
                theirs[n].add_(torch.randn(p.shape, generator=g) * 0.1)  # away from the identity init
                p.copy_(theirs[n])
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want, got = ref(pixel_values=x).pooler_output, ours(pixel_values=x).pooler_output
        assert (want - base(pixel_values=x).pooler_output).abs().max() > 1e-3  # the adapters act
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_keeps_earlier_methods_and_names_candidates():
    m = hf_clip_vision()
    apply_peft(m, [dict(type='BitFit'), dict(type='HFPeft', method='IA3', targets=['k_proj'],
                                              feedforward_modules=[])])
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert any(n.endswith('ia3_l.default') for n in trainable) and any(n.endswith('.bias') for n in trainable)
    with pytest.raises(ValueError, match=r"candidates are \[.*'fc1'.*'q_proj'"):
        apply_peft(hf_clip_vision(), [dict(type='HFPeft', method='DoRA', targets=['qkv'])])
    with pytest.raises(ValueError, match='not a layer tuner'):
        apply_peft(hf_clip_vision(), [dict(type='HFPeft', method='PROMPT_TUNING')])
