"""CoOp through the tiny PLIP-format text tower: prompts train, loss decreases, frozen tower untouched."""
import torch
import torch.nn.functional as F

from mmmedfm.models.adapters import CoOp
from mmmedfm.registry import MODELS
from tests.helpers import one_torch_thread  # noqa: F401 (fixture)


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


def coop_comparison(clip_dir: str):
    """``[(shots, ours, official, zero-shot)]``: mean test accuracies over seeds 1-3 on 5 synthetic classes in the
    tiny tower's 16-d space (see the test below)."""
    from tests.test_models.official_ports import coop_official
    encoder = MODELS.build(dict(type='HFCLIPText', pretrained=clip_dir))
    classes = ['benign glands', 'gleason pattern three', 'cribriform glands', 'solid sheets', 'stroma']
    zs, scale = encoder.encode([f'a photo of a {c}.' for c in classes]), encoder.logit_scale
    means = F.normalize(torch.randn(5, zs.shape[1], generator=torch.Generator().manual_seed(0)), dim=-1)

    def draw(per_class, seed):
        y = torch.arange(5).repeat_interleave(per_class)
        noise = torch.randn(len(y), zs.shape[1], generator=torch.Generator().manual_seed(seed))
        return F.normalize(means[y] + 0.3 * noise, dim=-1), y

    xt, yt = draw(50, 7)
    zero_shot = float(((xt @ zs.t()).argmax(1) == yt).float().mean())
    rows = []
    for shots in (1, 4, 16):
        epochs, mine, ref = CoOp.epochs_for_shots(shots) // 10, [], []
        for seed in (1, 2, 3):
            x, y = draw(shots, 100 + seed)
            ours = CoOp(encoder, n_ctx=4, epochs=epochs, seed=seed).fit((x, y), zs, scale, class_names=classes)
            mine.append(float((ours(xt).argmax(1) == yt).float().mean()))
            official = coop_official(encoder, classes, x, y, scale, n_ctx=4, epochs=epochs, seed=seed)
            ref.append(float((official(xt).argmax(1) == yt).float().mean()))
        rows.append((shots, sum(mine) / 3, sum(ref) / 3, zero_shot))
    return rows


def test_coop_matches_official_protocol(tiny_clip_dir, one_torch_thread):
    """Ours against a port of the CoOp release (tests/test_models/official_ports.py::coop_official: context
    N(0, 0.02), CLIP's text transformer on spliced embeddings, Dassl's SGD + weight decay, drop_last, per-epoch
    cosine after a warm-up epoch) on 5 synthetic classes in the tiny tower's 16-d space, k = 1/4/16, 3 seeds:
    mean accuracies within 3 points, both well above zero-shot. Epochs: the release's 50/100/200 by shots,
    divided by 10 for test time on both sides (test_coop_epochs_by_shots pins the full counts).
    ``PYTHONPATH=. python -m tests.test_models.test_adapters_coop`` prints the numbers."""
    for shots, mine, ref, zero_shot in coop_comparison(tiny_clip_dir):
        assert abs(mine - ref) <= 0.03, f'CoOp k={shots}: ours {mine:.3f} vs official {ref:.3f}'
        assert min(mine, ref) > zero_shot + 0.1, f'CoOp k={shots} did not train: {mine:.3f} vs {zero_shot:.3f}'


if __name__ == '__main__':
    import tempfile
    from mmmedfm.utils import register_all_modules
    from mmmedfm.utils.demo_assets import make_tiny_clip
    register_all_modules()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:  # the tiny_clip_dir fixture's model
        clip_dir = make_tiny_clip(tmp, image_size=64, patch_size=16, hidden=32, proj_dim=16)
        print('method | k | ours | official | zero-shot')
        for shots, mine, ref, zero_shot in coop_comparison(clip_dir):
            print(f'CoOp | {shots} | {100 * mine:.1f} | {100 * ref:.1f} | {100 * zero_shot:.1f}')
