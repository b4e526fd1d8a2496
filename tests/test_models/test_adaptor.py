"""AdaptorVL on a synthetic set where the caption is determined by the image class."""
import torch

from mmmedfm.apis.adaptor import zero_shot_proba
from mmmedfm.evaluation.retrieval import retrieval_metrics
from mmmedfm.models.alignment import AdaptorVL

C, DV, DT, L = 6, 24, 16, 5


def synthetic(n_per_class, seed):
    """Images = class prototype + noise; caption = the class's token sequence (one caption per class)."""
    g = torch.Generator().manual_seed(100)
    protos, captions = torch.randn(C, DV, generator=g), torch.randn(C, L, DT, generator=g)
    mask = torch.ones(C, L, dtype=torch.bool)
    mask[:, 3:] = torch.arange(C)[:, None] % 2 == 0  # some captions are padded
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(C).repeat_interleave(n_per_class)
    x = protos[y] + 0.8 * torch.randn(len(y), DV, generator=g)
    return x, y, captions, mask


def train(model, x, y, captions, mask, steps=150):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randperm(len(x), generator=g)[:32]
        out = model(x[idx], captions[y[idx]], mask[y[idx]], y[idx], y[idx], mode='loss')
        opt.zero_grad()
        out['loss'].backward()
        opt.step()
        losses.append(float(out['loss']))
    return losses


def test_adaptor_learns_retrieval_and_zero_shot():
    torch.manual_seed(0)
    model = AdaptorVL(DV, DT, width=32, depth=1, heads=2, embed_dim=16, dropout=0.)
    x, y, captions, mask = synthetic(20, seed=1)
    losses = train(model, x, y, captions, mask)
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    xt, yt, _, _ = synthetic(10, seed=2)  # held-out images
    model.eval()
    with torch.no_grad():
        img = model.encode_image(xt)
        cap = model.encode_text(captions, mask)
    res = retrieval_metrics(img, cap[yt], yt)
    chance = 100. / C
    assert res['i2t_R@1'] >= 80 and res['t2i_R@1'] >= 80 and res['patch_i2t_R@1'] > chance + 50
    probs = zero_shot_proba(img, cap, float(model.scale()))
    assert torch.allclose(probs.sum(1), torch.ones(len(probs)), atol=1e-5) and (probs >= 0).all()
    assert (probs.argmax(1) == yt).float().mean() > 1 / C + 0.5
    # The temperature is learnable and clamped at CLIP's 100.
    with torch.no_grad():
        model.logit_scale.fill_(10.)
    assert abs(float(model.scale()) - 100.) < 1e-3


def test_paired_fusion_uses_partner_tokens_and_trains():
    torch.manual_seed(0)
    model = AdaptorVL(DV, DT, width=32, depth=2, heads=2, embed_dim=16, fusion='paired', context_dropout=0.)
    x, y, captions, mask = synthetic(4, seed=1)
    model.train()
    a = model(x[:6], captions[y[:6]], mask[y[:6]], mode='tensor')[0]
    b = model(x[:6], captions[(y[:6] + 1) % C], mask[(y[:6] + 1) % C], mode='tensor')[0]
    model.eval()
    c = model(x[:6], captions[(y[:6] + 1) % C], mode='tensor')[0]
    assert not torch.allclose(a, b)  # the image embedding saw its partner caption during paired training
    assert torch.allclose(c, model.encode_image(x[:6]))  # inference: image only
    losses = train(model, x, y, captions, mask, steps=20)
    assert losses[-1] < losses[0]


def test_predict_mode_and_width_errors():
    model = AdaptorVL(DV, DT, width=32, depth=1, heads=2, embed_dim=16)
    x, y, captions, mask = synthetic(2, seed=0)
    out = model(x, captions[y], mask[y], y, y, mode='predict')
    assert len(out) == len(x) and out[0]['image_emb'].shape == (16, ) and out[3]['caption_index'] == int(y[3])
    import pytest
    with pytest.raises(ValueError, match='model.image_dim'):
        model.encode_image(torch.zeros(2, DV + 1))
