"""Evaluation of a trained :class:`~mmmedfm.models.AdaptorVL`: retrieval, zero-shot and few-shot probes.

Everything runs on the unimodal cache; the frozen text encoder is built only to encode zero-shot class prompts
that are not cached yet (:func:`~mmmedfm.apis.unimodal.encode_texts_cached`).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm
from mmengine.config import Config
from mmengine.logging import print_log

from mmmedfm.cache import unimodal_settings
from mmmedfm.utils.cli import as_config
from .unimodal import encode_texts_cached


@torch.no_grad()
def adapted_embeddings(model, dataset, batch_size: int = 1024) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(image_emb (N, E), caption_emb (M, E))`` of a :class:`CachedPairDataset` (captions: unique, in
    ``dataset.captions`` order)."""
    model.eval()
    imgs = [model.encode_image(torch.stack([dataset.image(i) for i in range(s, min(len(dataset), s + batch_size))]))
            for s in range(0, len(dataset), batch_size)]
    txts = [model.encode_text(dataset.text_tokens[s:s + batch_size], dataset.text_mask[s:s + batch_size])
            for s in range(0, len(dataset.captions), batch_size)]
    return torch.cat(imgs), torch.cat(txts)


@torch.no_grad()
def adaptor_class_embeddings(model, unimodal: dict, class_prompts: Sequence[Sequence[str]]) -> torch.Tensor:
    """Zero-shot class weights ``(C, E)``: each prompt through the frozen text encoder (cached token embeddings)
    then the adaptor text branch; prompt-ensemble mean, re-normalised."""
    u = unimodal_settings(dict(unimodal=unimodal))
    flat = [p for prompts in class_prompts for p in prompts]
    cache = encode_texts_cached(u['text'], flat, u['cache_dir'], u['max_length'], progress=False)
    index = {c: i for i, c in enumerate(cache.index['captions'])}
    tokens, mask = cache.load('tokens'), cache.load('mask').bool()
    model.eval()
    out = []
    for prompts in class_prompts:
        idx = torch.tensor([index[p] for p in prompts])
        out.append(torch.nn.functional.normalize(model.encode_text(tokens[idx], mask[idx]).mean(0), dim=-1))
    return torch.stack(out)


def zero_shot_proba(image_emb: torch.Tensor, class_emb: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """``softmax(logit_scale * image_emb @ class_emb^T)`` ``(N, C)``."""
    return (logit_scale * image_emb @ class_emb.t()).softmax(-1)


def few_shot_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                   shots: int, seed: int, zs_weights: Optional[torch.Tensor] = None, logit_scale: float = 100.
                   ) -> Dict[str, float]:
    """Issue-8 :class:`LinearProbe` on ``shots`` patches per class (seeded, nested draw) -> test metrics."""
    from mmmedfm.datasets.few_shot import sample_few_shot
    from mmmedfm.evaluation.functional import classification_metrics
    from mmmedfm.models.adapters import LinearProbe
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    data = [dict(gt_label=int(y), i=i) for i, y in enumerate(train_y.tolist())]
    idx = torch.tensor([d['i'] for d in sample_few_shot(data, shots, seed)])
    zs = zs_weights if zs_weights is not None else torch.zeros(num_classes, train_x.shape[1])
    probe = LinearProbe(seed=seed).fit((train_x[idx], train_y[idx]), zs, logit_scale)
    probs = probe.predict_proba(test_x).numpy()
    return classification_metrics(test_y.numpy(), probs, num_classes)


def evaluate_adaptor(cfg: Union[Config, str], checkpoint: Optional[str] = None, shots: Sequence[int] = (1, 4, 16),
                     seeds: Sequence[int] = (0, 1, 2), progress: bool = True) -> Dict[str, object]:
    """Retrieval (held-out WSIs), zero-shot and few-shot (adapted vs raw frozen features) of a trained adaptor.

    Each stage is logged; the few-shot probes (2 feature sets x shots x seeds, the slow part) show a progress
    bar with an ETA unless ``progress=False``.

    Returns:
        dict: ``retrieval`` (:func:`~mmmedfm.evaluation.retrieval.retrieval_metrics`), ``zero_shot``
        (:func:`classification_metrics`), ``few_shot`` ``{(features, shots): mean metrics over seeds}``.
    """
    from mmmedfm.evaluation.functional import classification_metrics
    from mmmedfm.evaluation.retrieval import retrieval_metrics
    from mmmedfm.models.utils.zero_shot import build_class_prompts
    from mmmedfm.registry import DATASETS
    from .inference import init_model
    cfg = as_config(cfg)
    model = init_model(cfg, checkpoint, device='cpu')  # the checked loader of tools/test.py; cached tensors are on CPU
    print_log('[eval_adaptor] 1/3 retrieval: embedding the cached train/test pairs', logger='current')
    train = DATASETS.build(Config(cfg.train_dataloader['dataset']).to_dict())
    test = DATASETS.build(Config(cfg.test_dataloader['dataset']).to_dict())
    tr_img, _ = adapted_embeddings(model, train)
    te_img, te_txt = adapted_embeddings(model, test)
    out: Dict[str, object] = dict(retrieval=retrieval_metrics(te_img, te_txt[test.caption_index], test.caption_index))
    print_log('[eval_adaptor] 2/3 zero-shot: encoding the class prompts', logger='current')
    source = Config(cfg.test_dataloader['dataset']).to_dict()['source']
    meta = DATASETS.get(source['type']).METAINFO
    class_emb = adaptor_class_embeddings(model, Config(cfg.test_dataloader['dataset']).to_dict()['unimodal'],
                                         build_class_prompts(meta['classes'], meta.get('templates')))
    scale = float(model.scale().detach())
    probs = zero_shot_proba(te_img, class_emb, scale)
    out['zero_shot'] = classification_metrics(test.labels.numpy(), probs.numpy(), len(class_emb))
    few: Dict[Tuple[str, int], Dict[str, float]] = {}
    feats = dict(adapted=(tr_img, te_img, class_emb), raw=(train.pooled.float(), test.pooled.float(), None))
    runs: Dict[Tuple[str, int], List[Dict[str, float]]] = {}
    jobs = [(name, k, s) for name in feats for k in shots for s in seeds]
    for name, k, s in tqdm(jobs, desc='[eval_adaptor] 3/3 few-shot probes', unit='probe', disable=not progress):
        xtr, xte, zs = feats[name]
        runs.setdefault((name, k), []).append(few_shot_probe(xtr, train.labels, xte, test.labels, k, s, zs, scale))
    for key, rs in runs.items():
        few[key] = {m: float(np.nanmean([r[m] for r in rs])) for m in rs[0]}
    out['few_shot'] = few
    return out
