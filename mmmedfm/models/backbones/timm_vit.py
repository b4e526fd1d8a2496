import os.path as osp
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedfm.registry import MODELS
from ..peft import apply_peft
from ..utils.checkpoint import find_checkpoint, load_state_dict_file
from ..utils.hub import ModelNotAvailableError, is_local, key_for, missing_model_message


@MODELS.register_module()
class TimmViT(BaseModule):
    """A timm model (ViT and friends) with weights from a local checkpoint file, e.g. UNI.

    UNI (``MahmoodLab/UNI``): ``model_name='vit_large_patch16_224'``, ``model_kwargs=dict(img_size=224,
    init_values=1e-5, dynamic_img_size=True)``, ``pretrained='data/models/UNI/pytorch_model.bin'``; ImageNet
    mean/std. The classifier head is removed (``num_classes=0``): the output is timm's pooled pre-logits.

    Args:
        model_name (str): timm architecture name.
        pretrained (str): Checkpoint file (``*.safetensors`` or a torch file, read with ``weights_only``), a
            directory holding one, or ``hf-hub:org/name`` (timm's own hub loader, cached/online only).
        model_kwargs (dict, optional): Extra ``timm.create_model`` arguments (``init_values``, ``img_size``...).
        normalize (bool): L2-normalise the output. Defaults to False.
        peft (list[dict], optional): PEFT methods, see :func:`mmmedfm.models.peft.apply_peft`.

    Shapes:
        input ``(N, 3, H, W)``; output: tuple of one ``(N, num_features)`` tensor.
    """

    def __init__(self,
                 model_name: str,
                 pretrained: str,
                 model_kwargs: Optional[dict] = None,
                 normalize: bool = False,
                 peft: Optional[List[dict]] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        import timm
        kwargs = dict(model_kwargs or {}, num_classes=0)
        if pretrained.startswith('hf-hub:'):
            try:
                self.model = timm.create_model(pretrained, pretrained=True, **kwargs)
            except (OSError, RuntimeError, ValueError) as e:
                raise ModelNotAvailableError(missing_model_message(pretrained)
                                             + f' [{e.__class__.__name__}]') from None
        else:
            if not is_local(pretrained):
                raise ModelNotAvailableError(f'timm checkpoint {pretrained!r} does not exist. Put the weight '
                                             'file (e.g. pytorch_model.bin) on this machine and set '
                                             f'`--cfg-options {key_for(pretrained)}=/path/to/file`.')
            path = find_checkpoint(pretrained) if osp.isdir(pretrained) else pretrained
            self.model = timm.create_model(model_name, pretrained=False, **kwargs)
            state = load_state_dict_file(path)
            state = {k: v for k, v in state.items() if not k.startswith('head.')}
            missing, unexpected = self.model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise KeyError(f'{path} does not match timm {model_name!r} {kwargs}: missing {missing[:8]}, '
                               f'unexpected {unexpected[:8]}.')
        self.model_name, self.pretrained, self.normalize = model_name, pretrained, normalize
        img_size = getattr(getattr(self.model, 'patch_embed', None), 'img_size', None)
        self.image_size = img_size[0] if img_size else self.model.pretrained_cfg.get('input_size', (3, 224))[-1]
        self.embed_dim = self.model.num_features
        self.peft_summary = apply_peft(self, peft)

    def init_weights(self):
        """Pretrained weights are loaded in ``__init__``; never re-initialise them."""

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        feat = self.model(x)
        if self.normalize:
            feat = F.normalize(feat, dim=-1)
        return (feat, )
