"""Unimodal embeddings of image–caption pairs (frozen vision and text encoders), sharded on disk.

What the Adaptor (``AdaptorVL``) trains on. Two caches, each a folder of fp16 safetensors shards (memory-mapped
when read, never pickle) plus ``index.json``:

* ``{cache_dir}/image_{key}/``: ``pooled (n, D_v)`` and optionally ``tokens (n, T, D_v)`` (patch tokens) per
  shard of ``shard_size`` images. Key: :func:`~mmmedfm.apis.features.feature_cache_key` of (vision config,
  weights fingerprint, preprocessor, test pipeline, sorted (file, label) list) + the patch-token flag, so a new
  text encoder never re-encodes images.
* ``{cache_dir}/text_{key}/``: ``tokens (m, L, D_t)``, ``mask (m, L)`` (uint8 attention mask) and ``pooled
  (m, D_t)`` of the unique captions. Key: text encoder config + weights fingerprint + ``max_length`` + captions.

Extraction is resumable (finished shards are skipped; every file is written atomically) and distributed: with
``world_size`` ranks, rank ``r`` encodes shards ``r, r + world_size, ...``; after a barrier rank 0 checks that
every shard exists and writes ``index.json`` (the merge: readers open the shards through it).
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from mmmedfm.models.utils.fingerprint import stable_hash, weights_fingerprint
from .features import _as_config, _autocast, feature_cache_key

INDEX = 'index.json'
_NON_SEMANTIC_KEYS = ('batch_size', )


def _shard_name(prefix: str, k: int, n: int) -> str:
    return f'{prefix}_{k:05d}-of-{n:05d}.safetensors'


def image_cache_key(vision: dict, preprocessor: dict, pipeline: list, files, patch_tokens: bool) -> str:
    """:func:`feature_cache_key` of the image side, extended with the patch-token flag."""
    base = feature_cache_key(vision, preprocessor, pipeline, files)
    return stable_hash(dict(base=base, patch_tokens=bool(patch_tokens), v=1), length=24)


def text_cache_key(text: dict, captions: Sequence[str], max_length: int) -> str:
    """Hash of the text encoder config (minus batching), its weights fingerprint, ``max_length`` and captions."""
    cfg = {k: v for k, v in dict(text).items() if k not in _NON_SEMANTIC_KEYS}
    weights = weights_fingerprint(cfg['pretrained']) if cfg.get('pretrained') else ''
    return stable_hash(dict(encoder=cfg, weights=weights, max_length=int(max_length), captions=list(captions), v=1),
                       length=24)


def source_items(source) -> List[dict]:
    """``[{img_path, gt_label, wsi_id, caption}]`` of a built dataset, in dataset order.

    Raises:
        KeyError: a data info has no ``caption`` (the dataset must provide one per image, e.g. PatchGastric).
    """
    out = []
    for i in range(len(source)):
        info = source.get_data_info(i)
        if info.get('caption') is None:
            raise KeyError(f'{type(source).__name__}: data info {i} ({info.get("img_path")}) has no `caption`; '
                           'image–caption training needs a dataset that provides captions (PatchGastricDataset).')
        out.append(dict(img_path=str(info['img_path']), gt_label=int(info.get('gt_label', -1)),
                        wsi_id=str(info.get('wsi_id', '') or ''), caption=str(info['caption'])))
    return out


def unique_captions(items: Sequence[dict]) -> List[str]:
    """Sorted unique caption strings (one per slide in PatchGastric; identical captions are merged)."""
    return sorted({it['caption'] for it in items})


class ShardedArrays:
    """Read-only view of a shard folder: concatenated tensors, memory-mapped through ``safe_open``.

    Args:
        folder (str): Cache folder with ``index.json``.

    Attributes:
        index (dict): The parsed ``index.json`` (``shards``, ``sizes``, ``keys`` and side-specific lists).
    """

    def __init__(self, folder: str):
        path = osp.join(folder, INDEX)
        if not osp.isfile(path):
            raise FileNotFoundError(f'{folder}: no {INDEX}; the unimodal cache is missing or incomplete. Run '
                                    '`python tools/extract_unimodal.py CONFIG` first.')
        with open(path) as f:
            self.index = json.load(f)
        self.folder = folder
        self.offsets = [0]
        for n in self.index['sizes']:
            self.offsets.append(self.offsets[-1] + n)
        self._handles: Dict[int, object] = {}

    def __len__(self) -> int:
        return self.offsets[-1]

    def _handle(self, k: int):
        if k not in self._handles:  # opened lazily per process (safe with forked dataloader workers)
            from safetensors import safe_open
            self._handles[k] = safe_open(osp.join(self.folder, self.index['shards'][k]), framework='pt')
        return self._handles[k]

    def has(self, key: str) -> bool:
        return key in self.index['keys']

    def get(self, key: str, i: int) -> torch.Tensor:
        """Row ``i`` of tensor ``key`` (read from the memory-mapped shard)."""
        import bisect
        k = bisect.bisect_right(self.offsets, i) - 1
        j = i - self.offsets[k]
        return self._handle(k).get_slice(key)[j:j + 1][0]

    def load(self, key: str) -> torch.Tensor:
        """All rows of ``key``, concatenated (in memory)."""
        return torch.cat([self._handle(k).get_tensor(key) for k in range(len(self.index['shards']))])

    def __getstate__(self):  # file handles do not cross process boundaries
        state = dict(self.__dict__)
        state['_handles'] = {}
        return state


def _run_shards(folder: str, prefix: str, num_items: int, shard_size: int,
                encode: Callable[[int, int], Dict[str, torch.Tensor]], rank: int, world_size: int,
                progress: bool, desc: str) -> List[str]:
    """Encode every missing shard assigned to ``rank``; returns all shard file names."""
    from safetensors.torch import save_file
    os.makedirs(folder, exist_ok=True)
    n = max(1, -(-num_items // shard_size))
    names = [_shard_name(prefix, k, n) for k in range(n)]
    todo = [k for k in range(rank, n, world_size) if not osp.isfile(osp.join(folder, names[k]))]
    done = len(range(rank, n, world_size)) - len(todo)
    if done:
        print_log(f'[unimodal cache] {desc}: {done} finished shard(s) skipped (resume)', logger='current')
    bar = None
    if progress and todo:
        from tqdm import tqdm
        total = sum(min(shard_size, num_items - k * shard_size) for k in todo)
        bar = tqdm(total=total, desc=f'{desc} [rank {rank}]', unit='item', position=rank)
    for k in todo:
        start, stop = k * shard_size, min(num_items, (k + 1) * shard_size)
        tensors = encode(start, stop)
        tmp = osp.join(folder, names[k] + f'.tmp{os.getpid()}')
        save_file({key: v.contiguous() for key, v in tensors.items()}, tmp)
        os.replace(tmp, osp.join(folder, names[k]))  # atomic: a crash never leaves a half shard
        if bar is not None:
            bar.update(stop - start)
    if bar is not None:
        bar.close()
    return names


def _finish(folder: str, names: List[str], num_items: int, shard_size: int, meta: dict, rank: int) -> None:
    """Barrier, then rank 0 checks every shard and writes ``index.json`` atomically."""
    from mmengine.dist import barrier
    barrier()
    if rank == 0:
        missing = [nm for nm in names if not osp.isfile(osp.join(folder, nm))]
        if missing:
            raise RuntimeError(f'{folder}: shard(s) {missing[:3]} missing after extraction (a rank failed?).')
        from safetensors import safe_open
        with safe_open(osp.join(folder, names[0]), framework='pt') as f:
            keys = {k: list(f.get_slice(k).get_shape()[1:]) for k in f.keys()}
        sizes = [min(shard_size, num_items - k * shard_size) for k in range(len(names))]
        tmp = osp.join(folder, INDEX + f'.tmp{os.getpid()}')
        with open(tmp, 'w') as f:
            json.dump(dict(meta, shards=names, sizes=sizes, keys=keys), f)
        os.replace(tmp, osp.join(folder, INDEX))
    barrier()


def image_token_forward(backbone, x: torch.Tensor, patch_tokens: bool) -> Dict[str, torch.Tensor]:
    """``{'pooled': (N, D)[, 'tokens': (N, T, D)]}`` of a frozen vision backbone (one forward pass).

    ``pooled`` is the backbone's configured output; patch tokens exclude class/register tokens. Our towers
    (:class:`PretrainedTower`) give both; other backbones give pooled embeddings only (``forward(x)[-1]``).
    """
    from mmmedfm.models.backbones.base_tower import PretrainedTower
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
    hidden = res.last_hidden_state
    mask = tok['attention_mask']
    if encoder.pooling == 'pooler':
        pooled = res.pooler_output
    elif encoder.pooling == 'cls':
        pooled = hidden[:, 0]
    else:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1)
    return dict(tokens=hidden, mask=mask.to(torch.uint8), pooled=pooled)


def _half(d: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {k: (v.float().half() if v.is_floating_point() else v).cpu() for k, v in d.items()}


def _device(device: Optional[str]) -> torch.device:
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
    return torch.device('cpu')


def encode_texts_cached(text: dict, texts: Sequence[str], cache_dir: str, max_length: int = 64,
                        batch_size: int = 256, shard_size: int = 4096, device: Optional[str] = None,
                        rank: int = 0, world_size: int = 1, progress: bool = True) -> str:
    """Token embeddings of ``texts`` (deduplicated, sorted) into ``{cache_dir}/text_{key}``; returns the folder.

    The text encoder is built only when some shard is missing.
    """
    from mmmedfm.registry import MODELS
    captions = sorted(set(texts))
    folder = osp.join(cache_dir, 'text_' + text_cache_key(text, captions, max_length))
    if osp.isfile(osp.join(folder, INDEX)):
        print_log(f'[unimodal cache] text hit: {folder} ({len(captions)} captions)', logger='current')
        return folder
    dev = _device(device)
    state = {}

    def encode(start, stop):
        if 'enc' not in state:
            state['enc'] = MODELS.build(dict(text)).eval().requires_grad_(False).to(dev)
        outs = []
        with torch.no_grad(), _autocast(dev):
            for i in range(start, stop, batch_size):
                outs.append(_half(text_token_forward(state['enc'], captions[i:min(stop, i + batch_size)],
                                                     max_length)))
        return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}

    names = _run_shards(folder, 'text', len(captions), shard_size, encode, rank, world_size, progress, 'text')
    _finish(folder, names, len(captions), shard_size, dict(captions=captions, max_length=max_length,
                                                           encoder=dict(text)), rank)
    return folder


def unimodal_settings(cfg) -> dict:
    """``cfg['unimodal']`` with defaults filled (see ``configs/adaptor/_base_``)."""
    if cfg.get('unimodal') is None:
        raise KeyError('The config has no `unimodal` dict (vision=..., text=..., data_preprocessor=..., '
                       'cache_dir=...); see configs/adaptor/.')
    u = ConfigDict(cfg['unimodal']).to_dict()
    for key in ('vision', 'text'):
        if not u.get(key):
            raise KeyError(f'`unimodal.{key}` is missing: the frozen {key} encoder config.')
    u.setdefault('data_preprocessor', dict(type='VLMDataPreprocessor', pretrained=u['vision'].get('pretrained')))
    u.setdefault('cache_dir', 'work_dirs/unimodal_cache')
    u.setdefault('patch_tokens', False)
    u.setdefault('max_length', 64)
    u.setdefault('shard_size', 4096)
    return u


def cache_folders(unimodal: dict, source_cfg: dict, pipeline: list) -> Dict[str, object]:
    """``{'image': folder, 'text': folder, 'items': [...], 'captions': [...]}`` for a source dataset config."""
    from mmmedfm.registry import DATASETS
    source = DATASETS.build(dict(source_cfg, pipeline=pipeline))
    items = source_items(source)
    files = [(it['img_path'], it['gt_label']) for it in items]
    key = image_cache_key(unimodal['vision'], unimodal['data_preprocessor'], pipeline, files,
                          unimodal['patch_tokens'])
    captions = unique_captions(items)
    text_key = text_cache_key(unimodal['text'], captions, unimodal['max_length'])
    return dict(image=osp.join(unimodal['cache_dir'], 'image_' + key),
                text=osp.join(unimodal['cache_dir'], 'text_' + text_key), items=items, captions=captions,
                classes=[str(c) for c in source.metainfo.get('classes', ())], source=source)


def extract_unimodal(cfg: Union[Config, str], split: str, batch_size: int = 64, device: Optional[str] = None,
                     rank: int = 0, world_size: int = 1, progress: bool = True) -> Dict[str, str]:
    """Encode the images and captions of ``{split}_dataloader.dataset.source`` into the unimodal caches.

    The dataset of ``{split}_dataloader`` is a :class:`~mmmedfm.datasets.CachedPairDataset` config whose
    ``source`` is the image dataset (e.g. ``PatchGastricDataset``, which gives each patch its slide's caption);
    images go through ``source.pipeline`` (deterministic, test-time) and ``unimodal.data_preprocessor``.

    Returns:
        dict: ``{'image': folder, 'text': folder}``.
    """
    from mmengine.dataset import pseudo_collate
    from mmmedfm.registry import MODELS
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    cfg = _as_config(cfg)
    ds = Config(cfg[f'{split}_dataloader']['dataset']).to_dict()
    # The dataset's own `unimodal` keys the cache it will read, so extraction uses exactly that one.
    u = unimodal_settings(dict(unimodal=ds.get('unimodal') or cfg.get('unimodal')))
    if 'source' not in ds:
        raise KeyError(f'`{split}_dataloader.dataset.source` is missing (the image–caption dataset to encode).')
    source_cfg = dict(ds['source'])
    pipeline = source_cfg.pop('pipeline', None)
    if pipeline is None:
        raise KeyError(f'`{split}_dataloader.dataset.source.pipeline` is missing (the test-time image pipeline).')
    folders = cache_folders(u, source_cfg, pipeline)
    items, source = folders['items'], folders['source']
    dev = _device(device)
    image_folder = folders['image']
    if osp.isfile(osp.join(image_folder, INDEX)):
        print_log(f'[unimodal cache] image hit: {image_folder} ({len(items)} images)', logger='current')
    else:
        state = {}

        def encode(start, stop):
            if 'backbone' not in state:
                vision = dict(u['vision'])
                vision.pop('peft', None)
                state['backbone'] = MODELS.build(vision).eval().requires_grad_(False).to(dev)
                state['pre'] = MODELS.build(u['data_preprocessor']).eval().to(dev)
            subset = torch.utils.data.Subset(source, range(start, stop))
            loader = torch.utils.data.DataLoader(subset, batch_size=batch_size, shuffle=False,
                                                 num_workers=min(4, os.cpu_count() or 1) if stop - start > 256
                                                 else 0, collate_fn=pseudo_collate)
            outs = []
            with torch.no_grad(), _autocast(dev):
                for data in loader:
                    x = state['pre'](data, False)['inputs']
                    outs.append(_half(image_token_forward(state['backbone'], x, u['patch_tokens'])))
            return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}

        names = _run_shards(image_folder, 'image', len(items), u['shard_size'], encode, rank, world_size, progress,
                            f'{split} images')
        _finish(image_folder, names, len(items), u['shard_size'],
                dict(image_ids=[it['img_path'] for it in items], labels=[it['gt_label'] for it in items],
                     wsi_ids=[it['wsi_id'] for it in items], classes=folders['classes'],
                     vision=u['vision'], patch_tokens=u['patch_tokens']), rank)
    text_folder = encode_texts_cached(u['text'], folders['captions'], u['cache_dir'], u['max_length'],
                                      shard_size=u['shard_size'], device=device, rank=rank,
                                      world_size=world_size, progress=progress)
    assert text_folder == folders['text']
    return dict(image=image_folder, text=text_folder)
