from typing import Dict, Optional

import torch

from mmmedfm.registry import MODELS
from ..utils.hub import load_hf
from .base_tower import PretrainedTower


@MODELS.register_module()
class HFCLIPVision(PretrainedTower):
    """Image tower of a Hugging Face ``CLIPModel`` checkpoint (PLIP ``vinid/plip``, OpenAI CLIP, any CLIP dir).

    Follows the PLIP recipe: ``pooler_output`` -> ``visual_projection`` -> L2 norm.

    Args:
        pretrained (str): Hub id or local directory of a ``CLIPModel`` checkpoint. :class:`VLMClassifier`
            fills it from ``foundation_model`` when not set.
        out_type (str): ``'embedding'`` (default), ``'pooled'`` or ``'tokens'``, see :class:`PretrainedTower`.
        normalize (bool): L2-normalise the output. Defaults to True.
        attn_implementation (str): ``'sdpa'`` (default, fused attention) or ``'eager'``.
        init_cfg (dict, optional): Unused; weights come from ``pretrained``.

    Shapes:
        input: ``(N, 3, H, W)`` normalised RGB; output: tuple of one ``(N, D)`` tensor (``D`` = projection
        dim for ``'embedding'``, hidden size otherwise) or ``(N, L, hidden)`` for ``'tokens'``.
    """

    def __init__(self,
                 pretrained: str,
                 out_type: str = 'embedding',
                 normalize: bool = True,
                 attn_implementation: str = 'sdpa',
                 init_cfg: Optional[dict] = None):
        super().__init__(out_type, normalize, init_cfg)
        from transformers import CLIPModel

        # The whole CLIPModel is loaded (the vision-only class would not read ``projection_dim`` from a
        # CLIPModel config); the text tower is dropped right away.
        model = load_hf(CLIPModel.from_pretrained, pretrained, attn_implementation=attn_implementation)
        self.pretrained = pretrained
        self.vision_model = model.vision_model
        self.visual_projection = model.visual_projection
        self.image_size = model.config.vision_config.image_size
        self.embed_dim = (model.config.projection_dim if out_type == 'embedding' else
                          model.config.vision_config.hidden_size)

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        out = self.vision_model(pixel_values=x)
        feats = dict(pooled=out.pooler_output)
        if tokens:
            feats['tokens'] = out.last_hidden_state[:, 1:]
        return feats

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.visual_projection(pooled)
