from typing import Dict, Optional, Tuple

import torch
from torch import nn

from mmmedfm.registry import MODELS
from ..utils.open_clip_loader import load_open_clip
from .base_tower import PretrainedTower


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
class OpenCLIPVision(PretrainedTower):
    """Image tower of an open_clip model: OpenAI CLIP (``ViT-B-16`` + ``openai``), QuiltNet, BiomedCLIP...

    ``visual(x)`` without its projection -> projection -> L2 norm (= open_clip's ``encode_image``).

    Args:
        pretrained (str): ``hf-hub:wisdomik/QuiltNet-B-32``; a local directory in the hf-hub layout
            (``open_clip_config.json`` + ``open_clip_pytorch_model.bin``/``.safetensors``); a local checkpoint
            file; or an open_clip tag (``openai``). See :func:`resolve_open_clip`.
        model_name (str, optional): open_clip architecture (``ViT-B-16``); needed with a tag or a file.
        out_type (str): ``'embedding'`` (joint space, default), ``'pooled'`` (before the projection) or
            ``'tokens'`` (patch tokens).
        normalize (bool): L2-normalise the output. Defaults to True.
        init_cfg (dict, optional): Unused; weights come from ``pretrained``.

    Shapes:
        input ``(N, 3, H, W)`` normalised RGB; output: tuple of one ``(N, D)`` tensor.

    Note:
        open_clip attention blocks are ``nn.MultiheadAttention`` (fused ``in_proj_weight``), which runs the
        fused SDPA kernel at inference; LoRA targets there are ``out_proj``/MLP ``c_fc``/``c_proj``.
    """

    def __init__(self, pretrained: str, model_name: Optional[str] = None, out_type: str = 'embedding',
                 normalize: bool = True, init_cfg: Optional[dict] = None):
        super().__init__(out_type, normalize, init_cfg)
        model = load_open_clip(pretrained, model_name)
        self.pretrained, self.model_name = pretrained, model_name
        self.visual, self.proj = split_projection(model.visual)
        del model
        self.image_size = self.visual.image_size[0]
        with torch.no_grad():
            feats = self.forward_features(torch.zeros(1, 3, *self.visual.image_size), tokens=True)
        self.embed_dim = (self.project(feats['pooled']) if out_type == 'embedding' else feats[out_type]).shape[-1]

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        if not tokens:
            return dict(pooled=self.visual(x))
        if hasattr(self.visual, 'trunk'):  # TimmModel (BiomedCLIP): a second pass, only when tokens are asked
            trunk = self.visual.trunk
            return dict(pooled=self.visual(x),
                        tokens=trunk.forward_features(x)[:, getattr(trunk, 'num_prefix_tokens', 1):])
        self.visual.output_tokens = True  # open_clip VisionTransformer returns (pooled, patch tokens)
        try:
            pooled, toks = self.visual(x)
        finally:
            self.visual.output_tokens = False
        return dict(pooled=pooled, tokens=toks)

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        return pooled @ self.proj.to(pooled.dtype) if isinstance(self.proj, nn.Parameter) else self.proj(pooled)
