"""CoOp through the tiny PLIP-format text tower: prompts train, loss decreases, frozen tower untouched."""
import torch
import torch.nn.functional as F

from mmmedfm.models.adapters import CoOp
from mmmedfm.registry import MODELS


def test_coop_trains_context_through_frozen_text_tower(tiny_clip_dir):
    torch.set_num_threads(1)
    encoder = MODELS.build(dict(type='HFCLIPText', pretrained=tiny_clip_dir))
    before = {k: v.clone() for k, v in encoder.text_model.state_dict().items()}
    classes = ['benign glands', 'gleason pattern three', 'cribriform glands', 'solid sheets']
    zs = encoder.encode([f'a photo of {c}.' for c in classes])
    g = torch.Generator().manual_seed(0)
    y = torch.arange(4).repeat_interleave(4)
    x = F.normalize(torch.randn(4, zs.shape[1], generator=g)[y] + 0.3 * torch.randn(16, zs.shape[1], generator=g),
                    dim=-1)
    coop = CoOp(encoder, n_ctx=4, epochs=30, lr=0.5, batch_size=16, seed=1)
    coop.fit((x, y), zs, 10., class_names=classes)
    assert coop.history[-1] < 0.9 * coop.history[0]
    assert coop.ctx.shape == (4, encoder.text_model.config.hidden_size)
    assert all(torch.equal(before[k], v) for k, v in encoder.text_model.state_dict().items())
    # The hook really replaces the placeholder embeddings: a different context gives different class embeddings.
    with torch.no_grad():
        emb = coop.text_features()
        delta = torch.randn(coop.ctx.shape, generator=g)  # not a constant shift: LayerNorm would remove it
        coop.ctx.add_(delta)
        assert not torch.allclose(emb, coop.text_features())
        coop.ctx.sub_(delta)
    torch.testing.assert_close(coop.predict_proba(x), (10. * x @ emb.t()).softmax(-1))
    # ctx_init: context starts at the words' token embeddings; same seed -> same numbers.
    a = CoOp(encoder, ctx_init='a photo of a', epochs=2, batch_size=16, seed=3).fit((x, y), zs, 10., classes)
    b = CoOp(encoder, ctx_init='a photo of a', epochs=2, batch_size=16, seed=3).fit((x, y), zs, 10., classes)
    assert a.ctx.shape[0] == 4
    torch.testing.assert_close(a.predict_proba(x), b.predict_proba(x), rtol=0, atol=0)
