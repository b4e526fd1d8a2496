from typing import List, Optional, Union

import torch
from mmengine.runner.amp import autocast
from mmpretrain.models.classifiers import ImageClassifier as _MMPretrainImageClassifier
from mmpretrain.structures import DataSample
from torch import nn

from mmmedfm.registry import MODELS
from ..peft import build_tower


@MODELS.register_module()
class ImageClassifier(_MMPretrainImageClassifier):
    """mmpretrain's ``ImageClassifier`` whose backbone config may carry ``peft=[...]``.

    Registered under the same name in the ``mmmedfm`` scope, so a config inheriting an mmpretrain model base
    (``mmpretrain::_base_/models/vit-base-p16.py``, ``default_scope='mmmedfm'``) gains LoRA, BitFit, LN-affine,
    VPT or any HF peft method on *any* registered backbone (mmpretrain's ``VisionTransformer``,
    ``TIMMBackbone``, ours) by adding that key; everything else is mmpretrain's class unchanged. The methods
    are applied while the model is built (see :func:`mmmedfm.models.peft.build_tower`), before MMEngine wraps
    it in DDP and builds the optimizer. ``self.backbone.peft_summary`` lists what each method made trainable.
    Under mixed precision (``--amp``) the head's scores are computed in fp32 (see :meth:`predict`).

    Args:
        backbone (dict | nn.Module): Backbone config; its ``peft`` key (optional) is popped before the build.
        **kwargs: ``ImageClassifier`` arguments (``neck``, ``head``, ``data_preprocessor``...).
    """

    def __init__(self, backbone: Union[dict, nn.Module], **kwargs):
        super().__init__(backbone=build_tower(backbone), **kwargs)

    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """mmpretrain's ``predict`` with the head outside autocast: a bf16 softmax is off by ~1e-3 (rows do not
        sum to 1), which the metrics refuse; the head is small, the backbone keeps its autocast."""
        feats = self.extract_feat(inputs)
        with autocast(enabled=False):
            return self.head.predict(tuple(f.float() for f in feats), data_samples, **kwargs)
