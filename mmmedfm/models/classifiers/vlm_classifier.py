from typing import Optional

from mmmedfm.registry import MODELS
from ..utils.hub import weight_keys
from .image_classifier import ImageClassifier


def _fill(cfg: Optional[dict], key: str, value: str) -> None:
    if isinstance(cfg, dict) and cfg.get(key) is None:
        cfg[key] = value


def fill_foundation_model(model_cfg: dict) -> dict:
    """Copy of a ``VLMClassifier`` config with ``foundation_model`` filled into its parts (see the class doc).

    Used by tools that build only some parts (feature extraction builds the backbone and preprocessor).
    """
    model_cfg = dict(model_cfg)
    foundation_model = model_cfg.get('foundation_model')
    if foundation_model is None:
        return model_cfg
    backbone = dict(model_cfg['backbone'])
    _fill(backbone, 'pretrained', foundation_model)
    model_cfg['backbone'] = backbone
    head = model_cfg.get('head')
    if isinstance(head, dict) and isinstance(head.get('text_encoder'), dict):
        head = dict(head, text_encoder=dict(head['text_encoder']))
        _fill(head['text_encoder'], 'pretrained', foundation_model)
        model_cfg['head'] = head
    pre = model_cfg.get('data_preprocessor')
    if isinstance(pre, dict) and pre.get('type') == 'VLMDataPreprocessor':
        pre = dict(pre)
        _fill(pre, 'pretrained', foundation_model)
        model_cfg['data_preprocessor'] = pre
    return model_cfg


def part_weight_keys(model_cfg: dict) -> dict:
    """``{part: (config key, weight path)}`` for each pretrained part of a ``VLMClassifier`` config: the key that
    sets it (``model.foundation_model`` where it fills the part, else the part's own ``pretrained``)."""
    out = {}
    foundation_model = model_cfg.get('foundation_model')
    parts = dict(backbone=model_cfg.get('backbone'),
                 text_encoder=(model_cfg.get('head') or {}).get('text_encoder'),
                 data_preprocessor=model_cfg.get('data_preprocessor'))
    prefix = dict(backbone='model.backbone', text_encoder='model.head.text_encoder',
                  data_preprocessor='model.data_preprocessor')
    for name, part in parts.items():
        if not isinstance(part, dict):
            continue
        if part.get('pretrained') is not None:
            out[name] = (f'{prefix[name]}.pretrained', part['pretrained'])
        elif foundation_model is not None and (name != 'data_preprocessor'
                                               or part.get('type') == 'VLMDataPreprocessor'):
            out[name] = ('model.foundation_model', foundation_model)
    return out


@MODELS.register_module()
class VLMClassifier(ImageClassifier):
    """``ImageClassifier`` (ours: ``backbone.peft`` applies at build) whose parts share one foundation model, set by a single config key.

    ``foundation_model`` is filled into ``backbone.pretrained``, ``head.text_encoder.pretrained`` and
    ``data_preprocessor.pretrained`` wherever those are not set, so swapping the model (or pointing at a local
    copy: ``--cfg-options model.foundation_model=/path``) changes the weights, the text tower and the
    normalisation constants together.

    Args:
        foundation_model (str, optional): Hub id or local directory.
        **kwargs: ``ImageClassifier`` arguments (``backbone``, ``neck``, ``head``, ``data_preprocessor``...).
    """

    def __init__(self, backbone: dict, foundation_model: Optional[str] = None, head: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, **kwargs):
        parts = dict(foundation_model=foundation_model, backbone=backbone, head=head,
                     data_preprocessor=data_preprocessor)
        keys = {path: key for key, path in part_weight_keys(parts).values()}
        filled = fill_foundation_model(parts)
        backbone, head, data_preprocessor = filled['backbone'], filled['head'], filled['data_preprocessor']
        self.foundation_model = foundation_model
        with weight_keys(keys):
            super().__init__(backbone=backbone, head=head, data_preprocessor=data_preprocessor, **kwargs)
