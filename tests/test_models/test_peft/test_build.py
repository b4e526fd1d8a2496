"""`peft=[...]` is a property of the model build: it applies to any registered backbone (mmpretrain's
VisionTransformer here), before weight init is sealed, and to text towers."""
import pytest
import torch

from mmmedfm.models.peft import build_tower, lora_layers
from mmmedfm.registry import MODELS

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def _classifier(peft=None, init_cfg=None):
    backbone = dict(type='VisionTransformer', arch=ARCH, img_size=32, patch_size=16, init_cfg=init_cfg)
    if peft is not None:
        backbone['peft'] = peft
    torch.manual_seed(0)
    return MODELS.build(dict(type='ImageClassifier', backbone=backbone,
                             head=dict(type='VisionTransformerClsHead', num_classes=3, in_channels=32)))


def test_mmpretrain_vit_gains_lora_and_init_weights_leaves_it_alone():
    model = _classifier([dict(type='LoRA', rank=2, targets=['qkv'], qkv_parts=['q', 'v'])])
    assert sorted(lora_layers(model.backbone)) == ['layers.0.attn.qkv', 'layers.1.attn.qkv']
    trainable = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert trainable == {f'layers.{i}.attn.qkv.lora_{ab}.{p}.weight' for i in (0, 1) for ab in 'AB' for p in 'qv'}
    model.init_weights()  # what the Runner does after building the optimizer: must not touch the backbone
    assert all(not b.weight.any() for layer in lora_layers(model.backbone).values()
               for _, b in layer._lora_pairs())
    plain = _classifier()  # same base weights, no LoRA: the adapted model's output is unchanged at step 0
    plain.backbone.load_state_dict({k.replace('.base_layer', ''): v for k, v in model.backbone.state_dict().items()
                                    if 'lora_' not in k})
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model.eval().extract_feat(x)[-1], plain.eval().extract_feat(x)[-1])


def test_pretrained_init_cfg_loads_before_injection(tmp_path):
    src = _classifier()
    src.backbone.init_weights()
    with torch.no_grad():
        for p in src.backbone.parameters():
            p.add_(torch.randn_like(p))
    ckpt = str(tmp_path / 'vit.pth')
    torch.save(dict(state_dict=src.backbone.state_dict()), ckpt)
    model = _classifier([dict(type='LoRA', targets=['qkv'])], init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    model.init_weights()
    ours = {k.replace('.base_layer', ''): v for k, v in model.backbone.state_dict().items() if 'lora_' not in k}
    for k, v in src.backbone.state_dict().items():
        torch.testing.assert_close(ours[k], v, msg=k)


def test_text_tower_and_spellings(tiny_clip_dir):
    text = build_tower(dict(type='HFCLIPText', pretrained=tiny_clip_dir,
                            peft=[dict(type='LoRA', targets=['q_proj', 'v_proj'])]))
    assert len(lora_layers(text.text_model)) == 2 * 2  # 2 layers x (q, v)
    assert {n.split('.')[-3] for n, p in text.named_parameters() if p.requires_grad} == {'lora_A', 'lora_B'}
    with pytest.raises(ValueError, match='peft=None'):
        build_tower(dict(type='HFCLIPText', pretrained=tiny_clip_dir, peft=[dict(type='FullFineTune')]))
    with pytest.raises(KeyError, match='BitFit'):  # unknown method: lists the registered ones
        build_tower(dict(type='HFCLIPText', pretrained=tiny_clip_dir, peft=[dict(type='BitFitt')]))


def test_tower_outputs_share_one_pass(tiny_clip_dir):
    from transformers import CLIPModel
    ref = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = ref.vision_model(pixel_values=x)
        for out_type, want in [('tokens', out.last_hidden_state[:, 1:]), ('pooled', out.pooler_output),
                               ('embedding', ref.visual_projection(out.pooler_output))]:
            tower = MODELS.build(dict(type='HFCLIPVision', pretrained=tiny_clip_dir, out_type=out_type,
                                      normalize=False)).eval()
            torch.testing.assert_close(tower(x)[0], want)
            assert tower.embed_dim == want.shape[-1]


def test_unmatched_lora_target_lists_the_candidates():
    from mmmedfm.models.peft import apply_peft
    from tests.test_models.test_peft._tiny import open_clip_vit
    with pytest.raises(ValueError, match=r"candidates are \['attn', 'c_fc', 'c_proj', 'out_proj'\]"):
        apply_peft(open_clip_vit(), [dict(type='LoRA', targets=['q_proj', 'k_proj', 'v_proj'])])


def test_peft_state_is_in_state_dict_and_moves(tiny_clip_dir):
    """What PEFT fits (prompts, LoRA weights) lives in parameters: state_dict round-trips it, .to() moves it."""
    cfg = dict(type='HFCLIPVision', pretrained=tiny_clip_dir, attn_implementation='eager',
               peft=[dict(type='VisualPromptTuning', num_tokens=2), dict(type='LoRA', targets=['q_proj'])])
    a, b = build_tower(cfg).eval(), build_tower(cfg).eval()
    with torch.no_grad():
        for p in a.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p))
    x = torch.randn(2, 3, 64, 64)
    assert (a(x)[0] - b(x)[0]).abs().max() > 1e-3
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b(x)[0], a(x)[0])
    b.to(torch.float64)
    assert b.vpt.prompts.dtype == torch.float64
    torch.testing.assert_close(b(x.double())[0].float(), a(x)[0], atol=1e-5, rtol=1e-4)
