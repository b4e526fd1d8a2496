from typing import Optional

from mmpretrain.models.classifiers import ImageClassifier

from mmmedfm.registry import MODELS


def _fill(cfg: Optional[dict], key: str, value: str) -> None:
    if isinstance(cfg, dict) and cfg.get(key) is None:
        cfg[key] = value


@MODELS.register_module()
class VLMClassifier(ImageClassifier):
    """``ImageClassifier`` whose parts share one foundation model, set by a single config key.

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
        if foundation_model is not None:
            backbone = dict(backbone)
            _fill(backbone, 'pretrained', foundation_model)
            if isinstance(head, dict) and isinstance(head.get('text_encoder'), dict):
                head = dict(head, text_encoder=dict(head['text_encoder']))
                _fill(head['text_encoder'], 'pretrained', foundation_model)
            if isinstance(data_preprocessor, dict) and data_preprocessor.get('type') == 'VLMDataPreprocessor':
                data_preprocessor = dict(data_preprocessor)
                _fill(data_preprocessor, 'pretrained', foundation_model)
        self.foundation_model = foundation_model
        super().__init__(backbone=backbone, head=head, data_preprocessor=data_preprocessor, **kwargs)
