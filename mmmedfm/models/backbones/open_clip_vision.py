from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmmedfm.registry import MODELS
from ..peft import apply_peft
from ..utils.open_clip_loader import load_open_clip


def split_projection(visual: nn.Module) -> Tuple[nn.Module, object]:
    """Detach the joint-space projection from an open_clip image tower, in place.

    open_clip's ``VisionTransformer`` ends with ``pooled @ proj`` (a Parameter, skipped when ``proj is None``);
    its ``TimmModel`` (BiomedCLIP) ends with a ``head`` module. Returns ``(visual_without_projection,
    projection)`` where ``projection`` is an ``nn.Parameter`` or an ``nn.Module``.
    """
    if isinstance(getattr(visual, 'proj', None), nn.Parameter):
        proj = visual.proj
        visual.proj = None
        return visual, proj
    if isinstance(getattr(visual, 'head', None), nn.Module) and hasattr(visual, 'trunk'):
        head = visual.head
        visual.head = nn.Identity()
        return visual, head
    raise TypeError(f'Unsupported open_clip image tower {visual.__class__.__name__}: expected a `proj` '
                    'Parameter (VisionTransformer) or a timm `trunk` + `head` (TimmModel).')


@MODELS.register_module()
class OpenCLIPVision(BaseModule):
    """Image tower of an open_clip model: OpenAI CLIP (``ViT-B-16`` + ``openai``), QuiltNet, BiomedCLIP...

    ``visual(x)`` without its projection -> projection -> L2 norm (= open_clip's ``encode_image``).

    Args:
        pretrained (str): ``hf-hub:wisdomik/QuiltNet-B-32``; a local directory in the hf-hub layout
            (``open_clip_config.json`` + ``open_clip_pytorch_model.bin``/``.safetensors``); a local checkpoint
            file; or an open_clip tag (``openai``). See :func:`resolve_open_clip`.
        model_name (str, optional): open_clip architecture (``ViT-B-16``); needed with a tag or a file.
        out_type (str): ``'embedding'`` (joint space, default) or ``'pooled'`` (before the projection).
        normalize (bool): L2-normalise the output. Defaults to True.
        peft (list[dict], optional): PEFT methods, see :func:`mmmedfm.models.peft.apply_peft`.
        quick_gelu (bool, optional): QuickGELU activations (OpenAI CLIP weights); None follows the pretrained
            tag, see :func:`~mmmedfm.models.utils.open_clip_loader.load_open_clip`.
        init_cfg (dict, optional): Unused; weights come from ``pretrained``.

    Shapes:
        input ``(N, 3, H, W)`` normalised RGB; output: tuple of one ``(N, D)`` tensor.

    Note:
        open_clip attention blocks are ``nn.MultiheadAttention`` (fused ``in_proj_weight``), which runs the
        fused SDPA kernel at inference; LoRA targets there are ``out_proj``/MLP ``c_fc``/``c_proj``.
    """

    def __init__(self,
                 pretrained: str,
                 model_name: Optional[str] = None,
                 out_type: str = 'embedding',
                 normalize: bool = True,
                 peft: Optional[List[dict]] = None,
                 quick_gelu: Optional[bool] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if out_type not in ('embedding', 'pooled'):
            raise ValueError(f"out_type must be 'embedding' or 'pooled', got {out_type!r}")
        model = load_open_clip(pretrained, model_name, quick_gelu=quick_gelu)
        self.pretrained, self.model_name = pretrained, model_name
        self.visual, self.proj = split_projection(model.visual)
        del model
        self.image_size = self.visual.image_size[0]
        with torch.no_grad():
            dummy = torch.zeros(1, 3, *self.visual.image_size)
            pooled = self.visual(dummy)
        self.out_type, self.normalize = out_type, normalize
        self.embed_dim = (self._project(pooled).shape[-1] if out_type == 'embedding' else pooled.shape[-1])
        self.peft_summary = apply_peft(self, peft)

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.proj.to(x.dtype) if isinstance(self.proj, nn.Parameter) else self.proj(x)

    def init_weights(self):
        """Pretrained weights are loaded in ``__init__``; never re-initialise them."""

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        feat = self.visual(x)
        if self.out_type == 'embedding':
            feat = self._project(feat)
        if self.normalize:
            feat = F.normalize(feat, dim=-1)
        return (feat, )
