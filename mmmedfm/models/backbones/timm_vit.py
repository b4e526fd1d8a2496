import os.path as osp
from typing import Dict, Optional

import torch

from mmmedfm.registry import MODELS
from ..utils.checkpoint import find_checkpoint, load_state_dict_file
from ..utils.hub import ModelNotAvailableError, is_local, key_for, missing_model_message
from .base_tower import PretrainedTower


@MODELS.register_module()
class TimmViT(PretrainedTower):
    """A timm model (ViT and friends) with weights from a local checkpoint file, e.g. UNI.

    UNI (``MahmoodLab/UNI``): ``model_name='vit_large_patch16_224'``, ``model_kwargs=dict(img_size=224,
    init_values=1e-5, dynamic_img_size=True)``, ``pretrained='data/models/UNI/pytorch_model.bin'``; ImageNet
    mean/std. The classifier head is removed (``num_classes=0``): the output is timm's pooled pre-logits.

    Args:
        model_name (str): timm architecture name.
        pretrained (str): Checkpoint file (``*.safetensors`` or a torch file, read with ``weights_only``), a
            directory holding one, or ``hf-hub:org/name`` (timm's own hub loader, cached/online only).
        model_kwargs (dict, optional): Extra ``timm.create_model`` arguments (``init_values``, ``img_size``...).
        out_type (str): ``'pooled'`` (default, timm's pre-logits) or ``'tokens'`` (patch tokens).
        normalize (bool): L2-normalise the output. Defaults to False.

    Shapes:
        input ``(N, 3, H, W)``; output: tuple of one ``(N, num_features)`` tensor.
    """

    out_types = ('pooled', 'tokens')

    def __init__(self,
                 model_name: str,
                 pretrained: str,
                 model_kwargs: Optional[dict] = None,
                 out_type: str = 'pooled',
                 normalize: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(out_type, normalize, init_cfg)
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
            self.load_checked(self.model, state, path, f'a checkpoint of timm {model_name!r} {kwargs}')
        self.model_name, self.pretrained = model_name, pretrained
        img_size = getattr(getattr(self.model, 'patch_embed', None), 'img_size', None)
        self.image_size = img_size[0] if img_size else self.model.pretrained_cfg.get('input_size', (3, 224))[-1]
        self.embed_dim = self.model.num_features

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        hidden = self.model.forward_features(x)
        feats = dict(pooled=self.model.forward_head(hidden, pre_logits=True))
        if tokens:
            feats['tokens'] = hidden[:, getattr(self.model, 'num_prefix_tokens', 1):]
        return feats
