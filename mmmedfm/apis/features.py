"""Frozen image embeddings of a config's dataset split, cached on disk (safetensors + JSON, never pickle).

Black-box adapters and sweeps read these instead of re-encoding images. The cache key covers everything
that changes the numbers: backbone config (incl. the pretrained id/path), a fingerprint of the weight
files, the preprocessor, the test pipeline and the sorted (file, label) list of the split.
"""
import inspect
import json
import os
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import print_log

from mmmedfm.models.classifiers.vlm_classifier import fill_foundation_model
from mmmedfm.models.heads.text_embedding_head import resolve_prompts
from mmmedfm.models.utils.fingerprint import stable_hash, weights_fingerprint
from mmmedfm.models.utils.text_cache import cached_class_embeddings

SPLITS = ('train', 'val', 'test')
DEFAULT_TEXT_CACHE = 'work_dirs/text_embedding_cache'


@dataclass
class FeatureSet:
    """Embeddings of one dataset split.

    Attributes:
        features (Tensor): ``(N, D)`` float32, L2-normalised.
        labels (LongTensor): ``(N,)`` class indices.
        image_ids (list[str]): Image paths, in the same order.
        wsi_ids (list[str]): Slide id per image (``''`` if the dataset has none).
        classes (list[str]): Class names in label order.
    """
    features: torch.Tensor
    labels: torch.Tensor
    image_ids: List[str]
    wsi_ids: List[str]
    classes: List[str]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.image_ids)

    @staticmethod
    def _paths(path: str) -> Tuple[str, str]:
        stem = path[:-len('.safetensors')] if path.endswith('.safetensors') else path
        return stem + '.safetensors', stem + '.json'

    def save(self, path: str) -> None:
        """Write ``{path}.safetensors`` (tensors) and ``{path}.json`` (lists); each atomically."""
        from safetensors.torch import save_file
        tensors_path, json_path = self._paths(path)
        os.makedirs(osp.dirname(osp.abspath(tensors_path)), exist_ok=True)
        tmp = f'.tmp{os.getpid()}'
        save_file({'features': self.features.float().contiguous(), 'labels': self.labels.long().contiguous()},
                  tensors_path + tmp)
        with open(json_path + tmp, 'w') as f:
            json.dump(dict(image_ids=self.image_ids, wsi_ids=self.wsi_ids, classes=self.classes, meta=self.meta), f)
        os.replace(json_path + tmp, json_path)
        os.replace(tensors_path + tmp, tensors_path)

    @classmethod
    def load(cls, path: str) -> 'FeatureSet':
        from safetensors.torch import load_file
        tensors_path, json_path = cls._paths(path)
        try:  # safetensors and JSON only: nothing in a cache can execute code
            tensors = load_file(tensors_path)
            with open(json_path) as f:
                lists = json.load(f)
            n = len(tensors['features'])
            if not (len(tensors['labels']) == len(lists['image_ids']) == len(lists['wsi_ids']) == n):
                raise ValueError('tensor and list lengths differ')
        except Exception as e:  # safetensors raises its own SafetensorError type
            raise ValueError(f'Feature cache {tensors_path} (+ .json) is unreadable or inconsistent ({e}); delete '
                             'both files to re-extract.') from None
        return cls(features=tensors['features'], labels=tensors['labels'], image_ids=lists['image_ids'],
                   wsi_ids=lists['wsi_ids'], classes=lists['classes'], meta=lists.get('meta', {}))

    def reordered(self, image_ids: List[str]) -> 'FeatureSet':
        """The same set in the order of ``image_ids`` (all must be present)."""
        index = {p: i for i, p in enumerate(self.image_ids)}
        idx = torch.tensor([index[p] for p in image_ids], dtype=torch.long)
        return FeatureSet(self.features[idx], self.labels[idx], list(image_ids),
                          [self.wsi_ids[i] for i in idx.tolist()], self.classes, self.meta)


def _as_config(cfg: Union[Config, str]) -> Config:
    return Config.fromfile(cfg) if isinstance(cfg, str) else cfg


def _build_dataset(cfg: Config, split: str):
    from mmmedfm.registry import DATASETS
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    key = f'{split}_dataloader'
    if key not in cfg or cfg[key] is None:
        raise KeyError(f'The config has no `{key}`; cannot extract the {split!r} split.')
    ds_cfg = Config(cfg[key]['dataset']).to_dict()
    # Frozen features are deterministic: every split goes through the test pipeline.
    ds_cfg['pipeline'] = Config(cfg.test_dataloader['dataset']).to_dict()['pipeline']
    return DATASETS.build(ds_cfg), ds_cfg['pipeline']


def _model_parts(cfg: Config) -> Tuple[dict, dict]:
    model = fill_foundation_model(Config(cfg.model).to_dict())
    backbone = dict(model['backbone'])
    backbone.pop('peft', None)  # features of the pretrained, frozen tower
    pre = dict(model.get('data_preprocessor') or dict(type='mmpretrain.ClsDataPreprocessor'))
    return backbone, pre


def feature_cache_key(backbone: dict, preprocessor: dict, pipeline: list, files: List[Tuple[str, int]]) -> str:
    """Hash of (backbone cfg, weights fingerprint, preprocessor, pipeline, sorted (file, label) list)."""
    weights = weights_fingerprint(backbone['pretrained']) if backbone.get('pretrained') else ''
    return stable_hash(dict(backbone=backbone, weights=weights, preprocessor=preprocessor, pipeline=pipeline,
                            files=sorted(files), v=1), length=24)


def _autocast(device: torch.device):
    if device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return torch.autocast('cpu', enabled=False)


def extract_features(cfg: Union[Config, str], split: str, cache_dir: str = 'work_dirs/feature_cache',
                     batch_size: int = 64, device: Optional[str] = None, progress: bool = True) -> FeatureSet:
    """Frozen, L2-normalised image embeddings of ``split`` (``train``/``val``/``test``), from cache if present.

    The backbone is built from ``cfg.model`` (``foundation_model`` filled in, ``peft`` dropped) and run in
    eval mode under ``torch.no_grad`` and bf16 autocast on CUDA; images go through the config's test
    pipeline and data preprocessor. A second call with the same inputs returns the cached set (logged).

    Args:
        cfg: Config or config path.
        split: ``'train'``, ``'val'`` or ``'test'`` (the ``{split}_dataloader.dataset``).
        cache_dir: Folder of ``{key}.safetensors`` + ``{key}.json``. Defaults to ``work_dirs/feature_cache``.
        batch_size: Images per forward pass. Defaults to 64.
        device: ``'cuda'``/``'cpu'``...; ``None`` picks CUDA when available.
        progress: Show a progress bar.

    Returns:
        FeatureSet: in dataset order.
    """
    from mmengine.dataset import pseudo_collate
    from mmmedfm.registry import MODELS
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    cfg = _as_config(cfg)
    dataset, pipeline = _build_dataset(cfg, split)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    image_ids = [str(info['img_path']) for info in infos]
    labels = [int(info.get('gt_label', -1)) for info in infos]
    backbone_cfg, pre_cfg = _model_parts(cfg)
    key = feature_cache_key(backbone_cfg, pre_cfg, pipeline, list(zip(image_ids, labels)))
    path = osp.join(cache_dir, f'{split}_{key}')
    if osp.isfile(path + '.safetensors') and osp.isfile(path + '.json'):
        print_log(f'[feature cache] hit: {path}.safetensors ({len(image_ids)} images)', logger='current')
        cached = FeatureSet.load(path)
        return cached if cached.image_ids == image_ids else cached.reordered(image_ids)

    dev = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    backbone = MODELS.build(backbone_cfg).eval().requires_grad_(False).to(dev)
    preprocessor = MODELS.build(pre_cfg).eval().to(dev)
    num_workers = min(int(cfg[f'{split}_dataloader'].get('num_workers', 0)), os.cpu_count() or 1)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                                         collate_fn=pseudo_collate)
    feats = []
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(dataset), desc=f'extract {split}', unit='img')
    with torch.no_grad(), _autocast(dev):
        for data in loader:
            inputs = preprocessor(data, False)['inputs']
            feats.append(F.normalize(backbone(inputs)[-1].float(), dim=-1).cpu())
            if bar is not None:
                bar.update(inputs.shape[0])
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    out = FeatureSet(features=torch.cat(feats) if feats else torch.zeros(0, getattr(backbone, 'embed_dim', 0)),
                     labels=torch.tensor(labels, dtype=torch.long), image_ids=image_ids,
                     wsi_ids=[str(info.get('wsi_id', '') or '') for info in infos],
                     classes=[str(c) for c in dataset.metainfo.get('classes', ())],
                     meta=dict(key=key, split=split, backbone=backbone_cfg, seconds=seconds))
    out.save(path)
    print_log(f'[feature cache] miss: encoded {len(out)} images in {seconds:.1f}s '
              f'({len(out) / max(seconds, 1e-9):.1f} img/s) -> {path}.safetensors', logger='current')
    return out


def zero_shot_classifier(cfg: Union[Config, str]) -> Tuple[torch.Tensor, float]:
    """Zero-shot class weights of ``cfg.model.head`` (its ``text_encoder`` + ``prompts``), disk-cached.

    Returns:
        ``((C, D) unit-norm tensor, logit_scale)``; the scale is ``head.logit_scale`` if set, else the
        encoder's (CLIP: ``logit_scale.exp()``), else 100.
    """
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    cfg = _as_config(cfg)
    head = fill_foundation_model(Config(cfg.model).to_dict()).get('head') or {}
    if 'text_encoder' not in head or 'prompts' not in head:
        raise KeyError('`model.head` needs `text_encoder` and `prompts` to build a zero-shot classifier.')
    _, class_prompts = resolve_prompts(head['prompts'])
    weights, scale = cached_class_embeddings(head['text_encoder'], class_prompts,
                                             head.get('cache_dir', DEFAULT_TEXT_CACHE))
    if head.get('logit_scale') is not None:
        scale = head['logit_scale']
    return weights, float(100. if scale is None else scale)


@torch.no_grad()
def class_text_anchors(cfg: Union[Config, str]) -> Optional[torch.Tensor]:
    """CLAP's text anchors: ``(C, D)`` raw (un-normalised) template-mean text embeddings of ``cfg.model.head``.

    Not cached (one pass of the text tower over the prompts). Returns ``None`` when the head's text encoder
    cannot return un-normalised embeddings (its ``encode`` has no ``normalize`` argument).
    """
    from mmmedfm.registry import MODELS
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    cfg = _as_config(cfg)
    head = fill_foundation_model(Config(cfg.model).to_dict()).get('head') or {}
    if 'text_encoder' not in head or 'prompts' not in head:
        return None
    _, class_prompts = resolve_prompts(head['prompts'])
    encoder = MODELS.build(head['text_encoder'])
    if 'normalize' not in inspect.signature(encoder.encode).parameters:
        return None
    emb = encoder.encode([p for prompts in class_prompts for p in prompts], normalize=False).float()
    sizes = [len(p) for p in class_prompts]
    return torch.stack([chunk.mean(0) for chunk in emb.split(sizes)])
