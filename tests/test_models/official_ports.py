"""Ports of the official few-shot adapter protocols (written from reading the released code; none copied).

Each function takes a support set ``(x (N, D) unit-norm, y (N,))``, the text side and, where the release uses
one, an extra labelled validation set, and returns a ``predict(features) -> logits`` closure. They follow the
releases' order of operations, schedules and search rules; only what needs GPUs/images (augmentation) is left
out. Sources: jusiro/CLAP ``trainers/adapters.py`` + ``configs/trainers/SGD_lr1e-1_B256_ep300.yaml``;
gaopengcuhk/Tip-Adapter ``main.py``/``utils.py``; KaiyangZhou/CoOp ``lpclip/linear_probe.py``;
FereshteShakeri/FewShot-CLIP-Strong-Baseline ``methods/linear_probe_p2.py``; KaiyangZhou/CoOp
``trainers/coop.py`` + ``configs/trainers/CoOp/*.yaml`` and Dassl's optimizer/scheduler/data-loader defaults.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def dassl_lr(epoch: int, base_lr: float, max_epoch: int, warmup_epochs: int = 1, warmup_lr: float = 1e-5) -> float:
    """Dassl's per-epoch ``cosine`` schedule with a ``constant`` warm-up (closed form)."""
    if epoch < warmup_epochs:
        return warmup_lr
    return 0.5 * base_lr * (1 + math.cos(math.pi * (epoch - warmup_epochs) / max_epoch))


def _dassl_train(params, loss_fn, x, y, epochs=300, lr=0.1, batch_size=256, seed=0):
    """Dassl-style loop of the CLAP release: SGD momentum 0.9, lr set per epoch, numpy shuffling."""
    optim = torch.optim.SGD(params, lr=lr, momentum=0.9)
    rng = np.random.RandomState(seed)
    for epoch in range(epochs):
        for group in optim.param_groups:
            group['lr'] = dassl_lr(epoch, lr, epochs)
        order = torch.as_tensor(rng.rand(len(x)).argsort())
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = loss_fn(x[idx], y[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()


def clap_official(x, y, raw_anchors, scale, constraint=True, epochs=300, seed=0):
    """CLAP (``ZSInit`` + ``l2`` constraint) or ZS-LP (``constraint=False``) as released."""
    torch.manual_seed(seed)
    prototypes = nn.Parameter(raw_anchors.clone())

    def logits(f):
        return scale * F.normalize(f, dim=-1) @ F.normalize(prototypes, dim=-1).t()

    with torch.no_grad():
        onehot = F.one_hot(y, len(raw_anchors)).float()
        lambdas = torch.diag(logits(x).softmax(-1).t() @ onehot) / onehot.sum(0)

    def loss(xb, yb):
        ce = F.cross_entropy(logits(xb), yb)
        if not constraint:
            return ce
        return ce + torch.mean(lambdas * (prototypes - raw_anchors).pow(2).sum(-1))

    _dassl_train([prototypes], loss, x, y, epochs=epochs, seed=seed)
    return lambda f: logits(f).detach()


def clip_adapter_official(x, y, raw_anchors, scale, ratio=0.2, epochs=300, seed=0):
    """CLIP-Adapter as the CLAP release runs it (``ClipA``): same schedule as CLAP."""
    torch.manual_seed(seed)
    d = x.shape[1]
    mlp = nn.Sequential(nn.Linear(d, d // 4, bias=False), nn.ReLU(inplace=True), nn.Linear(d // 4, d, bias=False),
                        nn.ReLU(inplace=True))

    def logits(f):
        f = ratio * mlp(f) + (1 - ratio) * f
        return scale * F.normalize(f, dim=-1) @ F.normalize(raw_anchors, dim=-1).t()

    _dassl_train(list(mlp.parameters()), lambda xb, yb: F.cross_entropy(logits(xb), yb), x, y, epochs=epochs,
                 seed=seed)
    return lambda f: logits(f).detach()


def _tip_search(feats, labels, zs_logits, affinity, values, scale=(12., 10.), steps=(200, 20)):
    """``search_hp``: beta outer, alpha inner, strictly better accuracy replaces the best (start 0)."""
    betas = [i * (scale[0] - 0.1) / steps[0] + 0.1 for i in range(steps[0])]
    alphas = [i * (scale[1] - 0.1) / steps[1] + 0.1 for i in range(steps[1])]
    best, best_beta, best_alpha = 0., 0., 0.
    for beta in betas:
        cache = ((-1) * (beta - beta * affinity)).exp() @ values
        for alpha in alphas:
            acc = float(((zs_logits + cache * alpha).argmax(1) == labels).float().mean())
            if acc > best:
                best, best_beta, best_alpha = acc, beta, alpha
    return best_alpha, best_beta


def tip_adapter_official(x, y, zs, scale, val, finetune=False, epochs=20, seed=0, steps=(200, 20)):
    """Tip-Adapter / Tip-Adapter-F: fine-tune at alpha = beta = 1, then search alpha/beta on ``val``."""
    torch.manual_seed(seed)
    values = F.one_hot(y, len(zs)).float()
    keys_t = nn.Parameter(x.t().clone())  # the release's nn.Linear weight holds keys^T ... as (D, K)
    if finetune:
        optim = torch.optim.AdamW([keys_t], lr=1e-3, eps=1e-4)
        n_batches = math.ceil(len(x) / 256)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, epochs * n_batches)
        for _ in range(epochs):
            order = torch.randperm(len(x))
            for i in range(0, len(x), 256):
                idx = order[i:i + 256]
                aff = x[idx] @ keys_t
                logits = scale * x[idx] @ zs.t() + ((-1) * (1. - 1. * aff)).exp() @ values * 1.
                loss = F.cross_entropy(logits, y[idx])
                optim.zero_grad()
                loss.backward()
                optim.step()
                sched.step()
    keys_t = keys_t.detach()
    xv, yv = val
    alpha, beta = _tip_search(xv, yv, scale * xv @ zs.t(), xv @ keys_t, values, steps=steps)
    return lambda f: scale * f @ zs.t() + alpha * ((-1) * (beta - beta * (f @ keys_t))).exp() @ values


def lpclip_official(x, y, val, num_step=2):
    """CoOp's lpclip: C over 1e6..1e-6 on the few-shot val set, then ``num_step`` binary-search steps."""
    from sklearn.linear_model import LogisticRegression
    xn, yn, xv, yv = x.double().numpy(), y.numpy(), val[0].double().numpy(), val[1].numpy()

    def fit(c):
        clf = LogisticRegression(solver='lbfgs', max_iter=1000, C=c).fit(xn, yn)
        return clf, float((clf.predict(xv) == yv).mean())

    search = [1e6, 1e4, 1e2, 1, 1e-2, 1e-4, 1e-6]
    accs = [fit(c)[1] for c in search]
    peak = search[int(np.argmax(accs))]
    c_left, c_right = 0.1 * peak, 10 * peak
    clf = None
    for _ in range(num_step):
        (clf_l, acc_l), (clf_r, acc_r) = fit(c_left), fit(c_right)
        if acc_l < acc_r:
            clf = clf_r
            c_left, c_right = 0.5 * (np.log10(c_right) + np.log10(c_left)), np.log10(c_right)
        else:
            clf = clf_l
            c_right, c_left = 0.5 * (np.log10(c_right) + np.log10(c_left)), np.log10(c_left)
        c_left, c_right = 10 ** c_left, 10 ** c_right
    return lambda f: torch.as_tensor(clf.predict_log_proba(f.double().numpy()))


def lp_plus_plus_official(x, y, zs, val, epochs=300, seed=0):
    """LP++ release: class-sum init (``nn.Linear``'s random bias), accumulated alpha gradient, best-val-epoch
    selection (``>=``)."""
    torch.manual_seed(seed)
    num_classes, n = len(zs), len(x)
    onehot = F.one_hot(y, num_classes).float()
    linear = nn.Linear(x.shape[1], num_classes)
    linear.weight.data = onehot.t() @ x
    scores = x @ zs.t()
    alpha = torch.full((1, num_classes), 250 * float((onehot.t() @ scores / onehot.sum(0)[:, None]).mean()),
                       requires_grad=True)
    lr_w = 4 * n / float(np.linalg.eigvalsh((x.t() @ x).double().numpy()).max())
    lr_alpha = n / (4 * float(scores.pow(2).sum(0).max()))
    optim = torch.optim.SGD(linear.parameters(), lr_w, momentum=0.9)

    def logits(f):
        return linear(f) + torch.ones(len(f), 1) @ alpha * (f @ zs.t())

    best, state = -1., None
    for epoch in range(epochs):
        loss = F.cross_entropy(logits(x), y)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if (epoch + 1) % 10 == 0:
            alpha.data -= lr_alpha * alpha.grad.data
        with torch.no_grad():
            acc = float((logits(val[0]).argmax(1) == val[1]).float().mean())
        if acc >= best:
            best = acc
            state = (linear.weight.detach().clone(), linear.bias.detach().clone(), alpha.detach().clone())

    def predict(f):
        w, b, a = state
        return f @ w.t() + b + a * (f @ zs.t())

    return predict


def coop_official(encoder, class_names, x, y, scale, n_ctx=4, epochs=50, lr=2e-3, batch_size=32,
                  weight_decay=5e-4, seed=0):
    """CoOp as released (KaiyangZhou/CoOp ``trainers/coop.py`` on Dassl): unified context N(0, 0.02) spliced
    between the SOS embedding and the ``<class>.`` suffix of ``"X X .. X <class>."`` prompts, CLIP's text
    transformer (positional embedding, causal attention, final LayerNorm, EOT pooling, projection) on those
    embeddings; SGD momentum 0.9 with Dassl's weight decay 5e-4, batch 32 with ``drop_last`` when the set holds a
    full batch, per-epoch cosine after one constant warm-up epoch at 1e-5. ``encoder``: an ``HFCLIPText``."""
    torch.manual_seed(seed)
    model, tokenizer = encoder.text_model, encoder.tokenizer
    width = model.embeddings.token_embedding.embedding_dim
    ctx = nn.Parameter(torch.empty(n_ctx, width))
    nn.init.normal_(ctx, std=0.02)
    tok = tokenizer([' '.join(['X'] * n_ctx) + f' {name}.' for name in class_names], padding=True,
                    return_tensors='pt')
    ids, eot = tok['input_ids'], tok['attention_mask'].sum(1) - 1
    with torch.no_grad():
        embedded = model.embeddings.token_embedding(ids)
    prefix, suffix = embedded[:, :1], embedded[:, 1 + n_ctx:]
    length = ids.shape[1]
    causal = torch.full((length, length), float('-inf')).triu(1)[None, None]
    positions = model.embeddings.position_embedding.weight[:length]

    def text_features():
        h = torch.cat([prefix, ctx.expand(len(ids), -1, -1), suffix], 1) + positions
        h = model.encoder(inputs_embeds=h, attention_mask=causal).last_hidden_state
        pooled = model.final_layer_norm(h)[torch.arange(len(ids)), eot]
        return F.normalize(encoder.text_projection(pooled), dim=-1)

    optim = torch.optim.SGD([ctx], lr=lr, momentum=0.9, weight_decay=weight_decay)
    drop_last = len(x) >= batch_size
    for epoch in range(epochs):
        for group in optim.param_groups:
            group['lr'] = dassl_lr(epoch, lr, epochs)
        order = torch.randperm(len(x))
        stop = len(x) - len(x) % batch_size if drop_last else len(x)
        for i in range(0, stop, batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(scale * F.normalize(x[idx], dim=-1) @ text_features().t(), y[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
    with torch.no_grad():
        weights = text_features()
    return lambda f: scale * F.normalize(f, dim=-1) @ weights.t()
