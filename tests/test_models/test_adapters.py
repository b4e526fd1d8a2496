"""Black-box adapters on synthetic cached features: numbers against sklearn / hand formulas."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmedfm.models.adapters import (CLAP, CLIPAdapter, LinearProbe, LPPlusPlus, TipAdapter, TipAdapterF,
                                     ZeroShotAdapter, ZSLinearProbe, clap_multipliers, clap_penalty,
                                     fit_logistic_regression, holdout_split)
from mmmedfm.registry import MODELS
from mmmedfm.utils.synthetic_features import make_synthetic_features
from tests.helpers import one_torch_thread  # noqa: F401 (fixture)


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def data():
    train, text = make_synthetic_features(per_class=20, seed=0)
    test, _ = make_synthetic_features(per_class=50, seed=1, split='test')
    idx = torch.cat([(train.labels == c).nonzero().flatten()[:8] for c in range(4)])
    return (train.features[idx], train.labels[idx]), test, text


def zero_shot_probs(x, text, scale=100.):
    return (scale * x @ F.normalize(text, dim=-1).t()).softmax(-1)


@pytest.mark.parametrize('C', [0.5, 10.])
def test_linear_probe_matches_sklearn(data, C):
    from sklearn.linear_model import LogisticRegression
    (x, y), test, text = data
    probe = LinearProbe(C=C).fit((x, y), text, 100.)
    ref = LogisticRegression(C=C, max_iter=5000, tol=1e-10).fit(x.double().numpy(), y.numpy())
    assert (probe.predict_proba(test.features).argmax(1).numpy() == ref.predict(test.features.double().numpy())).all()
    np.testing.assert_allclose(probe.predict_proba(test.features).numpy(),
                               ref.predict_proba(test.features.double().numpy()), atol=2e-3)


def test_linear_probe_searches_C_on_support_only(data):
    (x, y), test, text = data
    probe = LinearProbe(C_grid=(0.01, 1., 100.)).fit((x, y), text, 100.)
    tr, va = holdout_split(y, 0)
    scores = []
    for c in (0.01, 1., 100.):  # independent re-run of the search on the same held-out support split
        w, b = fit_logistic_regression(x[tr], y[tr], 4, c)
        pred = (x[va] @ w.t() + b).argmax(1)
        scores.append(np.mean([(pred[y[va] == k] == k).float().mean() for k in range(4)]))
    assert probe.selected_C == (0.01, 1., 100.)[int(np.argmax(scores))]
    one_shot = LinearProbe(default_C=3.).fit((x[::8], y[::8]), text, 100.)
    assert one_shot.selected_C == 3.  # 1 shot per class: nothing to hold out, default used


def test_holdout_split_is_disjoint_and_stratified():
    y = torch.arange(3).repeat_interleave(8)
    tr, va = holdout_split(y, seed=3)
    assert set(tr.tolist()).isdisjoint(va.tolist()) and len(tr) + len(va) == 24
    assert torch.bincount(y[va]).tolist() == [2, 2, 2]
    assert holdout_split(torch.arange(3), seed=0) is None


def test_kfold_splits_partition_each_class_and_balanced_accuracy_is_sklearns():
    from sklearn.metrics import balanced_accuracy_score

    from mmmedfm.models.adapters import kfold_splits
    from mmmedfm.models.adapters.base import balanced_accuracy
    y = torch.tensor([0] * 8 + [1] * 6 + [2] * 9)
    splits = kfold_splits(y, seed=5, folds=4)
    validated = torch.cat([va for _, va in splits]).sort().values
    assert len(splits) == 4 and torch.equal(validated, torch.arange(len(y)))  # every shot validated once
    for tr, va in splits:
        assert set(tr.tolist()).isdisjoint(va.tolist()) and len(tr) + len(va) == len(y)
        assert all(c in (1, 2, 3) for c in torch.bincount(y[va], minlength=3).tolist())  # stratified: 8/4, 6/4, 9/4
    assert [v.tolist() for _, v in kfold_splits(y, 5, 4)] == [v.tolist() for _, v in splits]  # seeded
    assert len(kfold_splits(torch.tensor([0, 0, 1, 1, 1]), 0, 4)) == 2 and kfold_splits(torch.arange(3), 0) == []
    logits = torch.randn(len(y), 3, generator=torch.Generator().manual_seed(0))
    assert balanced_accuracy(logits, y) == pytest.approx(balanced_accuracy_score(y, logits.argmax(1)))


def test_zero_shot_adapter(data):
    (x, y), test, text = data
    probs = ZeroShotAdapter().fit((x, y), text, 50.).predict_proba(test.features)
    torch.testing.assert_close(probs, zero_shot_probs(test.features, text, 50.))


def test_zs_lp_step0_is_zero_shot_and_training_moves(data):
    (x, y), test, text = data
    zs = zero_shot_probs(test.features, text)
    torch.testing.assert_close(ZSLinearProbe(epochs=0).fit((x, y), text, 100.).predict_proba(test.features), zs)
    trained = ZSLinearProbe(epochs=20).fit((x, y), text, 100.)
    assert trained.history[-1] < trained.history[0]
    assert not torch.allclose(trained.predict_proba(test.features), zs)


def test_clap_penalty_hand_example():
    w = torch.tensor([[1., 0.], [0., 2.], [3., 4.]])
    t = torch.tensor([[0., 0.], [0., 0.], [0., 4.]])
    lam = torch.tensor([0.5, 0.25, 1.])
    # (0.5 * 1 + 0.25 * 4 + 1 * 9) / 3
    assert float(clap_penalty(w, t, lam)) == pytest.approx(10.5 / 3)


def test_clap_multipliers_and_loss(data):
    (x, y), test, text = data
    logits = 100. * x @ F.normalize(text, dim=-1).t()
    lam = clap_multipliers(logits, y, 4)
    p = logits.softmax(-1).numpy()
    for c in range(4):
        assert float(lam[c]) == pytest.approx(p[y.numpy() == c, c].mean(), rel=1e-5)
    clap = CLAP(epochs=5).fit((x, y), text, 100.)
    torch.testing.assert_close(clap.lambdas, lam)
    with torch.no_grad():
        expected = F.cross_entropy(clap(x), y) + clap_penalty(clap.prototypes, F.normalize(text, dim=-1), lam)
        torch.testing.assert_close(clap.loss(x, y), expected)
    # The constraint keeps the prototypes closer to zero-shot than an unconstrained ZS-LP with the same schedule.
    free = ZSLinearProbe(epochs=300, lr=0.1, batch_size=256, cosine=True).fit((x, y), text, 100.)
    clap = CLAP().fit((x, y), text, 100.)
    zs = F.normalize(text, dim=-1)
    assert (clap.prototypes - zs).norm() < (free.prototypes - zs).norm()


@pytest.mark.parametrize('alpha,beta', [(0., 5.5), (3., 0.)])
def test_tip_adapter_limits_are_zero_shot(data, alpha, beta):
    (x, y), test, text = data  # class-balanced support: beta=0 adds the same alpha*k to every class
    tip = TipAdapter(alpha=alpha, beta=beta).fit((x, y), text, 100.)
    torch.testing.assert_close(tip.predict_proba(test.features), zero_shot_probs(test.features, text))


def test_tip_adapter_formula_and_search(data):
    (x, y), test, text = data
    tip = TipAdapter(alpha=2., beta=4.).fit((x, y), text, 100.)
    f = test.features[:5]
    aff = torch.exp(-4. * (1 - f @ x.t()))
    expected = 100. * f @ F.normalize(text, dim=-1).t() + 2. * aff @ F.one_hot(y, 4).float()
    torch.testing.assert_close(tip(f), expected)
    searched = TipAdapter(alpha_grid=(0.5, 5.), beta_grid=(2., 9.)).fit((x, y), text, 100.)
    assert searched.alpha_ in (0.5, 5.) and searched.beta_ in (2., 9.)
    tipf = TipAdapterF(epochs=10).fit((x, y), text, 100.)
    assert tipf.history[-1] < tipf.history[0]
    assert not torch.equal(tipf.keys.detach(), x)


def test_clip_adapter_residual(data):
    (x, y), test, text = data
    ad = CLIPAdapter(alpha=0., epochs=2).fit((x, y), text, 100.)
    torch.testing.assert_close(ad.predict_proba(test.features), zero_shot_probs(test.features, text))
    ad = CLIPAdapter(epochs=30, lr=0.05).fit((x, y), text, 100.)
    assert ad.mlp[0].weight.shape == (8, 32) and ad.history[-1] < ad.history[0]
    with torch.no_grad():
        v = F.normalize(0.8 * test.features + 0.2 * ad.mlp(test.features), dim=-1)
        torch.testing.assert_close(ad(test.features), 100. * v @ F.normalize(text, dim=-1).t())
    raw = 8. * F.normalize(text, dim=-1) + 0.2  # classified by the raw template-mean anchors, normalised
    ad = CLIPAdapter(alpha=0., epochs=0).fit((x, y), text, 100., text_anchors=raw)
    torch.testing.assert_close(ad.predict_proba(test.features), zero_shot_probs(test.features, raw))


def test_lp_plus_plus(data):
    (x, y), test, text = data
    lpp = LPPlusPlus(epochs=0).fit((x, y), text, 100.)
    sums = torch.stack([x[y == c].sum(0) for c in range(4)])  # the release initialises W with class sums
    torch.testing.assert_close(lpp.weight.detach(), sums)
    t = F.normalize(text, dim=-1)
    scores = torch.tensor([[float((x[y == c] @ t[d]).mean()) for d in range(4)] for c in range(4)])
    torch.testing.assert_close(lpp.alpha.detach(), torch.full((4,), 250 * float(scores.mean())))
    lpp = LPPlusPlus(select_epoch=False).fit((x, y), text, 100.)
    assert lpp.epochs_ == 300
    lpp = LPPlusPlus().fit((x, y), text, 100.)
    assert 1 <= lpp.epochs_ <= 300 and len(lpp.history) == lpp.epochs_
    assert lpp.history[-1] < lpp.history[0]
    acc = (lpp.predict_proba(test.features).argmax(1) == test.labels).float().mean()
    assert acc > 0.5  # 4 classes: well above chance on separable clusters


@pytest.mark.parametrize('cfg', [dict(type='LinearProbe'), dict(type='ZSLinearProbe', epochs=5),
                                 dict(type='CLAP', epochs=5), dict(type='CLIPAdapter', epochs=3),
                                 dict(type='TipAdapterF', epochs=3), dict(type='LPPlusPlus', epochs=20)])
def test_same_seed_same_numbers(data, cfg):
    (x, y), test, text = data
    runs = [MODELS.build(dict(cfg, seed=s)).fit((x, y), text, 100.).predict_proba(test.features)
            for s in (7, 7)]
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    if cfg['type'] == 'CLIPAdapter':
        other = MODELS.build(dict(cfg, seed=8)).fit((x, y), text, 100.).predict_proba(test.features)
        assert not torch.equal(runs[0], other)


def test_schedule_warmup_and_cosine():
    """train_epochs' learning rates, recovered from plain SGD steps on a linear loss, against the closed form."""
    from mmmedfm.models.adapters import train_epochs
    p = torch.nn.Parameter(torch.zeros(1))
    x, y = torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)
    seen = []

    def loss(xb, yb):
        seen.append(float(p.detach()))
        return p.sum()  # gradient 1: each step moves p by -lr

    train_epochs([p], loss, x, y, epochs=5, batch_size=2, lr=0.1, momentum=0., cosine=True, warmup_epochs=1,
                 warmup_lr=1e-5)
    lrs = -torch.diff(torch.tensor(seen + [float(p.detach())]))
    import math
    expected = [1e-5, 1e-5] + [0.05 * (1 + math.cos(math.pi * t / 8)) for t in range(8)]
    torch.testing.assert_close(lrs, torch.tensor(expected), atol=1e-6, rtol=1e-4)


def test_fitted_state_is_in_state_dict_and_moves(data):
    (x, y), test, text = data
    raw = 7. * F.normalize(text, dim=-1)
    for adapter, keys in ((LinearProbe(C=1.), {'weight', 'bias'}), (TipAdapter(alpha=1., beta=2.), {'keys', 'values'}),
                          (TipAdapterF(epochs=2), {'keys', 'values'}), (CLAP(epochs=2), {'prototypes', 'lambdas'}),
                          (LPPlusPlus(epochs=5), {'weight', 'bias', 'alpha'})):
        adapter.fit((x, y), text, 100., text_anchors=raw)
        state = adapter.state_dict()
        assert keys | {'zs_weights', 'text_anchors'} <= set(state), type(adapter).__name__
        assert adapter.to(torch.float64).zs_weights.dtype == torch.float64
        adapter.to(torch.float32)


def test_views_average_tip_keys_and_extend_probe_data(data):
    (x, y), test, text = data
    g = torch.Generator().manual_seed(0)
    views = F.normalize(x[None] + 0.1 * torch.randn(3, *x.shape, generator=g), dim=-1)
    tip = TipAdapter(alpha=1., beta=1.).fit((x, y), text, 100., views=views)
    torch.testing.assert_close(tip.keys, F.normalize(views.mean(0), dim=-1))
    seen = []
    zslp = ZSLinearProbe(epochs=1, batch_size=1000)
    zslp.loss = lambda xb, yb: seen.append(len(xb)) or F.cross_entropy(zslp(xb), yb)
    zslp.fit((x, y), text, 100., views=views)
    assert seen == [3 * len(x)]
    with pytest.raises(ValueError, match='views'):
        TipAdapter().fit((x, y), text, 100., views=views[:, :3])


def test_clap_anchors_are_raw_text_means(data):
    (x, y), test, text = data
    raw = 9. * F.normalize(text, dim=-1) + 0.1
    clap = CLAP(epochs=0).fit((x, y), text, 100., text_anchors=raw)
    torch.testing.assert_close(clap.prototypes.detach(), raw)  # not re-normalised
    lam = clap_multipliers(100. * x @ F.normalize(raw, dim=-1).t(), y, 4)
    torch.testing.assert_close(clap.lambdas, lam)
    torch.testing.assert_close(clap.predict_proba(test.features), zero_shot_probs(test.features, raw))


def test_coop_epochs_by_shots():
    from mmmedfm.models.adapters import CoOp
    assert [CoOp.epochs_for_shots(k) for k in (1, 2, 4, 8, 16)] == [50, 100, 100, 200, 200]
