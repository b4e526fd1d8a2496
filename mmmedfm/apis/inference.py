"""Inference from a config + checkpoint: build the model, read image lists, batched class probabilities.

``predict(config, checkpoint, inputs)`` is the notebook entry point (``tools/predict.py`` is its CLI);
``init_model`` / ``infer_logits`` are shared by the calibration and ensemble tools.
"""
import glob
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from mmmedfm.utils.cli import check_cfg_options, read_config
from mmmedfm.utils.device import inference_device

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.webp')
PATH_COLUMNS = ('path', 'img_path', 'image_path', 'image', 'filename', 'file', 'image_name')
SLIDE_COLUMNS = ('wsi_id', 'slide_id', 'slide', 'wsi')

__all__ = ['init_model', 'load_weights', 'read_inputs', 'infer_logits', 'infer_split', 'predict', 'class_names_of',
           'is_merged_checkpoint', 'without_lora']


def _config(config: Union[str, Config], cfg_options: Optional[dict] = None) -> Config:
    if isinstance(config, str):
        return read_config(config, cfg_options)
    cfg = config.copy()
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_weights(model: nn.Module, checkpoint: str) -> Dict[str, List[str]]:
    """Load a checkpoint with the policy of ``tools/test.py`` and ``--resume`` (one policy everywhere).

    Checkpoints may hold only the trainable parameters (PEFT): keys of the model that the file lacks are fine
    as long as they are frozen (they come from the foundation model, loaded in the constructor). Keys the model
    does not have, shape mismatches and missing *trainable* parameters are refused
    (:func:`~mmmedfm.models.peft.checkpoint.complete_state_dict`): they mean the checkpoint belongs to another
    config. Reading and loading are MMEngine's ``load_checkpoint`` (weights-only, strict, DDP's ``module.``
    prefix revised): :func:`~mmmedfm.models.peft.checkpoint.load_trainable`.

    Returns:
        dict: ``missing`` (the frozen model keys absent from the file, filled from the model),
        ``missing_trainable`` and ``unexpected`` (always empty: those are errors).

    Raises:
        KeyError / ValueError: the checkpoint does not fit the model (names the file and the keys).
    """
    from mmmedfm.models.peft.checkpoint import load_trainable
    _, missing = load_trainable(model, checkpoint)
    report = dict(missing=missing, unexpected=[], missing_trainable=[])
    print_log(f'Loaded {checkpoint}; {len(missing)} frozen model keys '
              'not in the file come from the foundation model.', logger='current')
    return report


def is_merged_checkpoint(checkpoint: Optional[str]) -> bool:
    """Whether ``checkpoint`` was written by ``MergeLoRAHook`` / ``tools/misc/merge_peft.py`` (LoRA folded into
    the base weights, plain key names): it loads into the config's model built without its LoRA entries."""
    if not checkpoint:
        return False
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    return bool(isinstance(meta, dict) and (meta.get('mmmedfm_base') or {}).get('merged'))


def without_lora(cfg: Config) -> Config:
    """``cfg`` with the ``LoRA`` entries removed from ``model.backbone.peft`` (other methods kept)."""
    backbone = cfg.model.get('backbone') or {}
    peft = backbone.get('peft')
    if isinstance(peft, (list, tuple)):
        backbone['peft'] = [p for p in peft if p.get('type') != 'LoRA']
    return cfg


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None, device: Optional[str] = None,
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build ``cfg.model`` in eval mode on ``device`` (CUDA if available) and load ``checkpoint`` if given.

    The model is built by MMPretrain's ``init_model`` (in the config's scope); the checkpoint is loaded by
    :func:`load_weights`, not by MMPretrain's non-strict loader, which would accept another config's file with
    a warning. The loaded config is kept as ``model.cfg`` and the load report as ``model.load_report``.
    """
    from mmpretrain.apis import init_model as build_model
    cfg = _config(config, cfg_options)
    scope = cfg.get('default_scope', 'mmmedfm')
    init_default_scope(scope)  # the test pipeline and datasets built later resolve in this scope
    if is_merged_checkpoint(checkpoint):
        cfg = without_lora(cfg)
    build_cfg = cfg.copy()
    # MMPretrain builds under its own default scope; ``_scope_`` makes the registries resolve our types.
    build_cfg.model = dict(build_cfg.model, _scope_=scope)
    model = build_model(build_cfg)
    model.load_report = load_weights(model, checkpoint) if checkpoint else None
    model.cfg = cfg
    return model.to(inference_device(device)).eval()


def class_names_of(model: nn.Module) -> List[str]:
    """Class names from the head (``class_names``) or the test dataset's metainfo, else indices."""
    names = getattr(getattr(model, 'head', None), 'class_names', None)
    if not names:
        from mmmedfm.registry import DATASETS
        cfg = getattr(model, 'cfg', None)
        ds_type = cfg.test_dataloader.dataset.type if cfg is not None and 'test_dataloader' in cfg else None
        names = (getattr(DATASETS.get(ds_type), 'METAINFO', {}) if ds_type else {}).get('classes')
    if not names:
        names = [str(i) for i in range(model.head.num_classes)]
    return [str(n) for n in names]


def _pick(columns: Sequence[str], wanted: Optional[str], candidates: Sequence[str], source: str,
          required: bool) -> Optional[str]:
    if wanted is not None:
        if wanted not in columns:
            raise KeyError(f'{source}: no column {wanted!r} (columns: {list(columns)}).')
        return wanted
    lower = {c.lower(): c for c in columns}
    found = next((lower[c] for c in candidates if c in lower), None)
    if found is None and required:
        raise KeyError(f'{source}: no image path column; name it one of {list(candidates)} or pass '
                       f'path_column (columns: {list(columns)}).')
    return found


def read_inputs(inputs: Union[str, Sequence[str]], path_column: Optional[str] = None,
                slide_column: Optional[str] = None, img_root: Optional[str] = None) -> List[dict]:
    """Turn an image, a folder (searched recursively), a CSV/XLSX list or a list of paths into
    ``[{'img_path': ..., 'wsi_id': ...?}, ...]``.

    Spreadsheet paths are relative to ``img_root`` (default: the spreadsheet's folder). The optional slide id
    column (``wsi_id``/``slide_id``/``slide``/``wsi`` or ``slide_column``) is carried to the output.

    Raises:
        FileNotFoundError: An input or listed image does not exist (the first missing row is named).
    """
    if not isinstance(inputs, str):
        items = [dict(img_path=str(p)) for p in inputs]
        source = 'inputs'
    elif osp.isdir(inputs):
        items = [dict(img_path=p) for p in sorted(glob.glob(osp.join(inputs, '**', '*'), recursive=True))
                 if p.lower().endswith(IMG_EXTENSIONS)]
        if not items:
            raise FileNotFoundError(f'No images ({", ".join(IMG_EXTENSIONS)}) under folder {inputs}.')
        source = inputs
    elif inputs.lower().endswith(('.csv', '.xlsx', '.xls')):
        from mmmedfm.datasets.tables import read_table
        df = read_table(inputs, 'Input list')  # names the file on a wrong format or an empty table
        col = _pick(df.columns, path_column, PATH_COLUMNS, inputs, required=True)
        scol = _pick(df.columns, slide_column, SLIDE_COLUMNS, inputs, required=False)
        root = img_root if img_root is not None else osp.dirname(osp.abspath(inputs))
        items = []
        for i, row in enumerate(df.itertuples(index=False)):
            value = getattr(row, col) if col.isidentifier() else row[list(df.columns).index(col)]
            if pd.isna(value):
                raise ValueError(f'{inputs}: row {i + 2} has an empty {col!r}.')
            item = dict(img_path=osp.join(root, str(value)), row=i + 2)
            if scol is not None:
                item['wsi_id'] = str(row[list(df.columns).index(scol)])
            items.append(item)
        source = inputs
    else:
        items, source = [dict(img_path=inputs)], 'input'
    for item in items:
        if not osp.isfile(item['img_path']):
            where = f' (row {item["row"]})' if 'row' in item else ''
            raise FileNotFoundError(f'{source}{where}: image not found: {item["img_path"]}')
        item.pop('row', None)
    return items


class _ListDataset(torch.utils.data.Dataset):

    def __init__(self, items: List[dict], pipeline):
        self.items, self.pipeline = items, Compose(pipeline)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.pipeline(dict(self.items[i], sample_idx=i))


@torch.no_grad()
def infer_logits(model: nn.Module, dataset, batch_size: int = 32, num_workers: int = 0,
                 progress: bool = True, desc: str = 'predict') -> Tuple[np.ndarray, List[dict]]:
    """``(N, C)`` logits of every item of a dataset whose items are packed ``{'inputs', 'data_samples'}``
    (an mmmedfm dataset or the internal list dataset), and each item's metainfo, in dataset order.

    Kept beside MMPretrain's ``ImageClassificationInferencer`` (which gives the same probabilities, see
    ``tests/test_tools/test_predict_tools.py``) for what it lacks: DataLoader workers, any dataset's own
    pipeline and metainfo (slide ids), and the raw logits that temperature scaling and calibration need."""
    from tqdm import tqdm
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                                         collate_fn=pseudo_collate)
    logits, metas = [], []
    for batch in tqdm(loader, desc=desc, unit='batch', disable=not progress):
        data = model.data_preprocessor(batch, False)
        logits.append(model(data['inputs'], data['data_samples'], mode='tensor').float().cpu())
        metas += [s.metainfo for s in batch['data_samples']]
    return torch.cat(logits).numpy() if logits else np.zeros((0, model.head.num_classes)), metas


def infer_split(model: nn.Module, split: str = 'test', batch_size: int = 32, num_workers: int = 0,
                ann_file: Optional[str] = None, progress: bool = True) -> Tuple[np.ndarray, np.ndarray, List[dict]]:
    """Logits ``(N, C)``, labels ``(N,)`` and metainfo of the config's ``{split}_dataloader`` dataset
    (``ann_file`` replaces its annotation file, e.g. a held-out calibration split)."""
    from mmmedfm.registry import DATASETS
    key = f'{split}_dataloader'
    if key not in model.cfg or model.cfg[key] is None:
        raise KeyError(f'The config has no {key}.')
    ds_cfg = model.cfg[key].dataset.copy()
    if ann_file is not None:
        ds_cfg.ann_file = ann_file
    dataset = DATASETS.build(ds_cfg)
    logits, metas = infer_logits(model, dataset, batch_size, num_workers, progress, desc=split)
    return logits, np.asarray(dataset.get_gt_labels()), metas


def predict(config: Union[str, Config], checkpoint: Optional[str], inputs: Union[str, Sequence[str]],
            batch_size: int = 32, device: Optional[str] = None, cfg_options: Optional[dict] = None,
            path_column: Optional[str] = None, slide_column: Optional[str] = None,
            img_root: Optional[str] = None, num_workers: int = 0, progress: bool = True,
            temperature: float = 1.) -> pd.DataFrame:
    """Class probabilities for images, one row each, with the config's test pipeline.

    Args:
        config (str | Config): Model config (its ``model`` and ``test_dataloader.dataset.pipeline`` are used).
        checkpoint (str, optional): Checkpoint (full or trainable-only); None for a zero-shot model.
        inputs (str | list[str]): Image, folder, CSV/XLSX list or list of paths; see :func:`read_inputs`.
        batch_size (int): Images per forward pass. Defaults to 32.
        device (str, optional): Defaults to CUDA if available, else CPU.
        cfg_options (dict, optional): Config overrides (``--cfg-options`` style keys).
        path_column, slide_column, img_root: For spreadsheet inputs; see :func:`read_inputs`.
        num_workers (int): Data-loading workers. Defaults to 0.
        progress (bool): Show a tqdm progress bar. Defaults to True.
        temperature (float): Temperature scaling of the probabilities (``softmax(logits / T)``; fitted by
            ``tools/analysis/calibrate.py``). Defaults to 1.

    Returns:
        pandas.DataFrame: ``path``, ``wsi_id`` (when given), ``pred_label`` (index), ``pred_class`` (name),
        ``prob_{class}`` per class (softmax of the model's logits, as in ``model.predict``).
    """
    model = init_model(config, checkpoint, device, cfg_options)
    items = read_inputs(inputs, path_column, slide_column, img_root)
    pipeline = model.cfg.test_dataloader.dataset.pipeline
    logits, _ = infer_logits(model, _ListDataset(items, pipeline), batch_size, num_workers, progress)
    probs = (torch.from_numpy(logits) / float(temperature)).softmax(-1).numpy()
    names = class_names_of(model)
    df = pd.DataFrame(dict(path=[it['img_path'] for it in items]))
    if any('wsi_id' in it for it in items):
        df['wsi_id'] = [it.get('wsi_id') for it in items]
    df['pred_label'] = probs.argmax(1)
    df['pred_class'] = [names[i] for i in df['pred_label']]
    for j, name in enumerate(names):
        df[f'prob_{name}'] = probs[:, j]
    return df
