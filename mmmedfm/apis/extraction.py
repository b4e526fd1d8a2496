"""The one extraction loop: frozen encoders -> a shard folder (:mod:`mmmedfm.cache`).

:func:`~mmmedfm.apis.extract_features` (pooled image embeddings for the black-box adapters) and
:func:`~mmmedfm.apis.extract_unimodal` (pooled/patch-token image embeddings and caption token embeddings for
the Adaptor) both write through :func:`encode_images` and :func:`encode_texts`.
"""
import os
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log

from mmmedfm.cache import is_complete, write_shards
from mmmedfm.utils.device import inference_autocast, inference_device

_DTYPES = dict(float32=torch.float32, float16=torch.float16)


def image_token_forward(backbone, x: torch.Tensor, patch_tokens: bool = False) -> Dict[str, torch.Tensor]:
    """``{'pooled': (N, D)[, 'tokens': (N, T, D)]}`` of a frozen vision backbone (one forward pass).

    ``pooled`` is the backbone's configured output; patch tokens exclude class/register tokens. Our towers
    (:class:`~mmmedfm.models.backbones.PretrainedTower`) give both; other backbones give pooled embeddings only
    (their ``forward(x)[-1]``).
    """
    from mmmedfm.models.backbones import PretrainedTower
    if isinstance(backbone, PretrainedTower) and backbone.out_type != 'tokens':
        feats = backbone.forward_features(x, tokens=patch_tokens)
        out = dict(pooled=backbone.output(feats))
        if patch_tokens:
            out['tokens'] = feats['tokens']
        return out
    if patch_tokens:
        raise TypeError(f'patch_tokens=True needs one of our towers (a PretrainedTower with a pooled output), '
                        f'not {type(backbone).__name__}; set `unimodal.patch_tokens=False`.')
    return dict(pooled=backbone(x)[-1])


def text_token_forward(encoder, texts: List[str], max_length: int) -> Dict[str, torch.Tensor]:
    """``{'tokens': (N, L, D), 'mask': (N, L) uint8, 'pooled': (N, D)}`` of a BERT-family ``HFTextEncoder``.

    Captions are padded/truncated to exactly ``max_length`` tokens so that shards stack.
    """
    if not (hasattr(encoder, 'tokenizer') and hasattr(encoder, 'model')):
        raise TypeError(f'{type(encoder).__name__} has no HF tokenizer/model; token embeddings need an '
                        'HFTextEncoder (BERT family).')
    dev = next(encoder.model.parameters()).device
    tok = encoder.tokenizer(list(texts), padding='max_length', truncation=True, max_length=max_length,
                            return_tensors='pt').to(dev)
    res = encoder.model(**tok)
    hidden, mask = res.last_hidden_state, tok['attention_mask']
    if encoder.pooling == 'pooler':
        pooled = res.pooler_output
    elif encoder.pooling == 'cls':
        pooled = hidden[:, 0]
    else:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1)
    return dict(tokens=hidden, mask=mask.to(torch.uint8), pooled=pooled)


def _store(d: Dict[str, torch.Tensor], dtype: torch.dtype) -> Dict[str, torch.Tensor]:
    return {k: (v.float().to(dtype) if v.is_floating_point() else v).cpu() for k, v in d.items()}


def _cat(outs: List[Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}


def _hit(folder: str, what: str) -> bool:
    if not is_complete(folder):
        return False
    print_log(f'[cache] hit ({what}): {folder}', logger='current')
    return True


def _frozen(cfg: dict, device: torch.device) -> torch.nn.Module:
    from mmmedfm.registry import MODELS
    return MODELS.build(dict(cfg)).eval().requires_grad_(False).to(device)


def encode_images(dataset, vision: dict, preprocessor: dict, folder: str, meta: dict, patch_tokens: bool = False,
                  dtype: str = 'float32', batch_size: int = 64, num_workers: int = 0, shard_size: int = 4096,
                  device: Optional[str] = None, rank: int = 0, world_size: int = 1, progress: bool = True,
                  desc: str = 'images') -> str:
    """Frozen image embeddings of ``dataset`` (a pipeline-applying dataset) into ``folder``; returns it.

    The tower (``vision``, eval, no grad, bf16 autocast on CUDA) and ``preprocessor`` are built only when a
    shard is missing. Stored per image: ``pooled (D,)`` (the tower's output, not normalised) and, with
    ``patch_tokens``, ``tokens (T, D)``; in ``dtype``.
    """
    from mmengine.dataset import pseudo_collate
    if _hit(folder, f'{desc}: {len(dataset)} images'):
        return folder
    dev, state = inference_device(device), {}

    def encode(start, stop):
        if not state:
            state['backbone'], state['pre'] = _frozen(vision, dev), _frozen(preprocessor, dev)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, range(start, stop)), batch_size=batch_size, shuffle=False,
            num_workers=min(num_workers, os.cpu_count() or 1), collate_fn=pseudo_collate)
        outs = []
        with torch.no_grad(), inference_autocast(dev):
            for data in loader:
                x = state['pre'](data, False)['inputs']
                outs.append(_store(image_token_forward(state['backbone'], x, patch_tokens), _DTYPES[dtype]))
        return _cat(outs)

    return write_shards(folder, len(dataset), encode, meta, shard_size, rank, world_size, progress, desc)


def encode_texts(text: dict, texts: Sequence[str], folder: str, max_length: int, batch_size: int = 256,
                 shard_size: int = 4096, device: Optional[str] = None, rank: int = 0, world_size: int = 1,
                 progress: bool = True) -> str:
    """Token embeddings (fp16 ``tokens``, ``mask``, ``pooled``) of ``texts`` (in the given order) into
    ``folder``; returns it. The text encoder is built only when a shard is missing."""
    texts = list(texts)
    if _hit(folder, f'text: {len(texts)} texts'):
        return folder
    dev, state = inference_device(device), {}

    def encode(start, stop):
        if not state:
            state['enc'] = _frozen(text, dev)
        with torch.no_grad(), inference_autocast(dev):
            return _cat([_store(text_token_forward(state['enc'], texts[i:min(stop, i + batch_size)], max_length),
                                torch.float16) for i in range(start, stop, batch_size)])

    return write_shards(folder, len(texts), encode, dict(captions=texts, max_length=max_length,
                                                         encoder=dict(text)), shard_size, rank, world_size,
                        progress, 'text')
