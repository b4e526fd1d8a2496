from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedfm.registry import MODELS
from ..peft import apply_peft
from ..utils.hub import load_hf


@MODELS.register_module()
class HFCLIPVision(BaseModule):
    """Image tower of a Hugging Face ``CLIPModel`` checkpoint (PLIP ``vinid/plip``, OpenAI CLIP, any CLIP dir).

    Follows the PLIP recipe: ``pooler_output`` -> ``visual_projection`` -> L2 norm. Weights are loaded in
    the constructor (MMEngine does not call ``init_weights`` at test time) and PEFT is applied right after,
    before MMEngine wraps the model in DDP and builds the optimizer.

    Args:
        pretrained (str): Hub id or local directory of a ``CLIPModel`` checkpoint. :class:`VLMClassifier`
            fills it from ``foundation_model`` when not set.
        out_type (str): ``'embedding'`` (projected into the joint space, default) or ``'pooled'`` (the
            pooled hidden state before projection).
        normalize (bool): L2-normalise the output. Defaults to True.
        peft (list[dict], optional): PEFT methods (see :func:`mmmedfm.models.peft.apply_peft`). ``None``
            keeps every parameter trainable (full fine-tuning); a list freezes the tower and then enables
            what each method selects (an empty list = frozen tower).
        attn_implementation (str): ``'sdpa'`` (default, fused attention) or ``'eager'``.
        init_cfg (dict, optional): Unused; weights come from ``pretrained``.

    Shapes:
        input: ``(N, 3, H, W)`` normalised RGB; output: tuple of one ``(N, D)`` tensor (``D`` = projection
        dim for ``'embedding'``, hidden size for ``'pooled'``).
    """

    def __init__(self,
                 pretrained: str,
                 out_type: str = 'embedding',
                 normalize: bool = True,
                 peft: Optional[List[dict]] = None,
                 attn_implementation: str = 'sdpa',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if out_type not in ('embedding', 'pooled'):
            raise ValueError(f"out_type must be 'embedding' or 'pooled', got {out_type!r}")
        from transformers import CLIPModel

        # The whole CLIPModel is loaded (the vision-only class would not read ``projection_dim`` from a
        # CLIPModel config); the text tower is dropped right away.
        model = load_hf(CLIPModel.from_pretrained, pretrained, attn_implementation=attn_implementation)
        self.pretrained = pretrained
        self.vision_model = model.vision_model
        self.visual_projection = model.visual_projection
        self.image_size = model.config.vision_config.image_size
        self.out_type = out_type
        self.normalize = normalize
        self.embed_dim = (model.config.projection_dim if out_type == 'embedding' else
                          model.config.vision_config.hidden_size)
        self.peft_summary = apply_peft(self, peft)

    def init_weights(self):
        """Pretrained weights are loaded in ``__init__``; never re-initialise them."""

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        feat = self.vision_model(pixel_values=x).pooler_output
        if self.out_type == 'embedding':
            feat = self.visual_projection(feat)
        if self.normalize:
            feat = F.normalize(feat, dim=-1)
        return (feat, )
