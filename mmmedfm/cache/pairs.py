"""Where the unimodal (image–caption) caches of a dataset live: settings, items and cache folders.

Shared by the writer (:func:`mmmedfm.apis.extract_unimodal`) and the reader
(:class:`mmmedfm.datasets.CachedPairDataset`), so both find the same folders from the same inputs.
"""
import os.path as osp
from typing import Dict, List, Sequence

from mmengine.config import ConfigDict

from .keys import image_cache_key, text_cache_key

# Storage dtype of the unimodal caches (patch tokens are large).
PAIR_DTYPE = 'float16'


def unimodal_settings(cfg) -> dict:
    """``cfg['unimodal']`` with defaults filled (see ``configs/adaptor/_base_``)."""
    if cfg.get('unimodal') is None:
        raise KeyError('The config has no `unimodal` dict (vision=..., text=..., data_preprocessor=..., '
                       'cache_dir=...); see configs/adaptor/.')
    u = ConfigDict(cfg['unimodal']).to_dict()
    for key in ('vision', 'text'):
        if not u.get(key):
            raise KeyError(f'`unimodal.{key}` is missing: the frozen {key} encoder config.')
    u['vision'] = {k: v for k, v in u['vision'].items() if k != 'peft'}  # features of the frozen tower
    u.setdefault('data_preprocessor', dict(type='VLMDataPreprocessor', pretrained=u['vision'].get('pretrained')))
    u.setdefault('cache_dir', 'work_dirs/unimodal_cache')
    u.setdefault('patch_tokens', False)
    u.setdefault('max_length', 64)
    u.setdefault('shard_size', 4096)
    return u


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


def text_folder(unimodal: dict, texts: Sequence[str]) -> str:
    """Cache folder of the token embeddings of ``texts`` (deduplicated and sorted by the caller)."""
    key = text_cache_key(unimodal['text'], texts, max_length=int(unimodal['max_length']), kind='tokens')
    return osp.join(unimodal['cache_dir'], 'text_' + key)


def pair_cache_folders(unimodal: dict, items: Sequence[dict], pipeline: list) -> Dict[str, str]:
    """``{'image': folder, 'text': folder}`` of the items of a source dataset (see :func:`source_items`)."""
    files = [(it['img_path'], it['gt_label']) for it in items]
    key = image_cache_key(unimodal['vision'], unimodal['data_preprocessor'], pipeline, files,
                          patch_tokens=unimodal['patch_tokens'], dtype=PAIR_DTYPE)
    return dict(image=osp.join(unimodal['cache_dir'], 'image_' + key),
                text=text_folder(unimodal, unique_captions(items)))
