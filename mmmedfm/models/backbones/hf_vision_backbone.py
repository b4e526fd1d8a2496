from typing import Dict, Optional

import torch

from mmmedfm.registry import MODELS
from ..utils.hub import load_hf
from .base_tower import PretrainedTower

POOLINGS = ('cls', 'mean', 'pooler')


@MODELS.register_module()
class HFVisionBackbone(PretrainedTower):
    """Vision-only Hugging Face model loaded with ``AutoModel`` (DINOv2, ViT, ...), for probing/PEFT without text.

    Args:
        pretrained (str): Hub id (``facebook/dinov2-base``) or local directory (``save_pretrained`` layout).
        pooling (str): ``'cls'`` (first token of ``last_hidden_state``; DINOv2's is already layer-normed),
            ``'mean'`` (mean of the patch tokens, skipping the class and any register tokens) or ``'pooler'``
            (the model's ``pooler_output``). Defaults to ``'cls'``.
        out_type (str): ``'pooled'`` (default) or ``'tokens'`` (no projection: no ``'embedding'``).
        normalize (bool): L2-normalise the output. Defaults to False (linear probes usually want raw features).
        attn_implementation (str): ``'sdpa'`` (default) or ``'eager'``.

    Shapes:
        input ``(N, 3, H, W)`` normalised RGB (mean/std from the model's ``preprocessor_config.json``);
        output: tuple of one ``(N, hidden_size)`` tensor.
    """

    out_types = ('pooled', 'tokens')

    def __init__(self,
                 pretrained: str,
                 pooling: str = 'cls',
                 out_type: str = 'pooled',
                 normalize: bool = False,
                 attn_implementation: str = 'sdpa',
                 init_cfg: Optional[dict] = None):
        super().__init__(out_type, normalize, init_cfg)
        if pooling not in POOLINGS:
            raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}')
        from transformers import AutoModel
        self.model = load_hf(AutoModel.from_pretrained, pretrained, attn_implementation=attn_implementation)
        config = self.model.config
        self.pretrained, self.pooling = pretrained, pooling
        self.num_prefix_tokens = 1 + int(getattr(config, 'num_register_tokens', 0) or 0)
        self.image_size = getattr(config, 'image_size', None)
        self.embed_dim = config.hidden_size

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        out = self.model(pixel_values=x)
        hidden = out.last_hidden_state
        if self.pooling == 'pooler':
            pooled = out.pooler_output
        elif self.pooling == 'cls':
            pooled = hidden[:, 0]
        else:
            pooled = hidden[:, self.num_prefix_tokens:].mean(1)
        feats = dict(pooled=pooled)
        if tokens:
            feats['tokens'] = hidden[:, self.num_prefix_tokens:]
        return feats
