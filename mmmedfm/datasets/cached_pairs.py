from typing import List, Optional

import torch
from torch.utils.data import Dataset

from mmmedfm.cache import ShardedArrays, pair_cache_folders, source_items, unimodal_settings, unique_captions
from mmmedfm.registry import DATASETS


def holdout_rows(items: List[dict], part: str, fraction: float = 0.1, seed: int = 0) -> List[int]:
    """Indices of ``items`` in the ``part`` (``'train'`` or ``'val'``) of a per-class, WSI-level split."""
    if part not in ('train', 'val'):
        raise ValueError(f"holdout.part must be 'train' or 'val', got {part!r}")
    slides = {}
    for it in items:
        slides.setdefault(it['gt_label'], {}).setdefault(it['wsi_id'], None)
    g = torch.Generator().manual_seed(seed)
    val = set()
    for label in sorted(slides):
        ids = sorted(slides[label])
        n = min(len(ids) - 1, max(1, round(fraction * len(ids)))) if len(ids) > 1 else 0
        val.update(ids[j] for j in torch.randperm(len(ids), generator=g)[:n].tolist())
    return [i for i, it in enumerate(items) if (it['wsi_id'] in val) == (part == 'val')]


@DATASETS.register_module()
class CachedPairDataset(Dataset):
    """Image–caption pairs read from the unimodal cache (no image decoding, no encoder forward).

    The cache folders are found from the same inputs that wrote them (``source`` dataset + ``unimodal``
    encoders, see :func:`mmmedfm.cache.pair_cache_folders`); a missing cache is one clear error telling you
    to run ``tools/extract_unimodal.py``. Pooled image embeddings and the (few, one per slide) caption token
    embeddings are held in memory; patch tokens stay memory-mapped in their safetensors shards.

    Args:
        source (dict): The image dataset config (e.g. ``PatchGastricDataset``) incl. its test-time ``pipeline``;
            each data info must carry a ``caption``.
        unimodal (dict): The config's ``unimodal`` dict (``vision``, ``text``, ``data_preprocessor``,
            ``cache_dir``, ``patch_tokens``, ``max_length``).
        patch_tokens (bool, optional): Return ``(1 + T, D_v)`` pooled + patch tokens per image; defaults to
            ``unimodal.patch_tokens``.
        holdout (dict, optional): Carve a WSI-disjoint validation part out of ``source``:
            ``dict(part='train' | 'val', fraction=0.1, seed=0)`` keeps the slides of that part (per class,
            ``round(fraction * n)`` seeded slides, at least one when a class has two or more, go to ``'val'``).
            The cache is the whole source's, so both parts read the same extraction. Used to select checkpoints
            without touching the evaluation split.

    Each item: ``image`` ``(D_v,)`` or ``(1 + T, D_v)`` fp16, ``text`` ``(L, D_t)`` fp16, ``text_mask`` ``(L,)``
    bool, ``caption_index`` (index into :attr:`captions`), ``label``, ``index``.
    """

    def __init__(self, source: dict, unimodal: dict, patch_tokens: Optional[bool] = None,
                 holdout: Optional[dict] = None, **kwargs):
        u = unimodal_settings(dict(unimodal=unimodal))
        pipeline = list(source.get('pipeline') or [])
        source = DATASETS.build(dict(source, pipeline=pipeline))
        self.items: List[dict] = source_items(source)
        self.captions: List[str] = unique_captions(self.items)
        folders = pair_cache_folders(u, self.items, pipeline)
        self.images, self.texts = ShardedArrays(folders['image']), ShardedArrays(folders['text'])
        if len(self.images) != len(self.items) or len(self.texts) != len(self.captions):
            raise RuntimeError(f'{folders["image"]}: cache size does not match the dataset; re-run extraction.')
        self.patch_tokens = u['patch_tokens'] if patch_tokens is None else patch_tokens
        if self.patch_tokens and not self.images.has('tokens'):
            raise KeyError(f'{folders["image"]} has no patch tokens; extract with `unimodal.patch_tokens=True`.')
        cap_index = {c: i for i, c in enumerate(self.captions)}
        self.rows = holdout_rows(self.items, **holdout) if holdout else list(range(len(self.items)))
        self.items = [self.items[r] for r in self.rows]
        self.caption_index = torch.tensor([cap_index[it['caption']] for it in self.items], dtype=torch.long)
        self.labels = torch.tensor([it['gt_label'] for it in self.items], dtype=torch.long)
        self.pooled = self.images.load('pooled')[self.rows]
        self.text_tokens, self.text_mask = self.texts.load('tokens'), self.texts.load('mask').bool()
        self.text_pooled = self.texts.load('pooled')
        classes = tuple(str(c) for c in source.metainfo.get('classes', ()))
        self._metainfo = dict(classes=classes, captions=self.captions)

    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    def __len__(self) -> int:
        return len(self.items)

    def get_data_info(self, i: int) -> dict:
        return dict(self.items[i], caption_index=int(self.caption_index[i]))

    def image(self, i: int) -> torch.Tensor:
        if not self.patch_tokens:
            return self.pooled[i]
        return torch.cat([self.pooled[i][None], self.images.get('tokens', self.rows[i])])

    def __getitem__(self, i: int) -> dict:
        c = int(self.caption_index[i])
        return dict(image=self.image(i), text=self.text_tokens[c], text_mask=self.text_mask[c], caption_index=c,
                    label=int(self.labels[i]), index=i)
