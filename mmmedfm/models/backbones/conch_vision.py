import os.path as osp
from typing import Dict, Optional

import torch
from torch import nn

from mmmedfm.registry import MODELS
from ..utils.checkpoint import find_checkpoint, load_state_dict_file
from ..utils.hub import is_local, load_hf
from .base_tower import PretrainedTower

# Image-tower keys of a CONCH checkpoint (``MahmoodLab/CONCH`` ``pytorch_model.bin``, CoCa layout), after
# stripping the leading ``visual.``; every other key (``text.*``, ``text_decoder.*``, ``attn_pool_caption.*``,
# ``ln_caption.*``, ``logit_scale``) belongs to the captioning/text side and is ignored.
CONCH_VISION_PREFIXES = ('trunk.', 'attn_pool_contrast.', 'ln_contrast.', 'proj_contrast')


def conch_vision_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Select and un-prefix the contrastive image-tower weights of a full CONCH state dict."""
    if 'state_dict' in state_dict and isinstance(state_dict['state_dict'], dict):
        state_dict = state_dict['state_dict']
    out = {}
    for k, v in state_dict.items():
        k = k[len('visual.'):] if k.startswith('visual.') else k
        if k.startswith(CONCH_VISION_PREFIXES):
            out[k] = v
    return out


@MODELS.register_module()
class CONCHVision(PretrainedTower):
    """Image tower of a CONCH-format checkpoint (CoCa ViT-B/16 @ 448, 512-d), built from timm/open_clip parts.

    There is no ``conch`` package on PyPI, so the tower is rebuilt from its published layout:

    - ``trunk``: timm ``VisionTransformer`` (ViT-B/16, 448 px, fused ``attn.qkv``, class token, final
      ``norm``; ``forward_features`` gives ``(N, 1 + L, 768)`` tokens);
    - ``attn_pool_contrast``: open_clip ``AttentionalPooler`` (one learned query, 8 heads, ``ln_q``/``ln_k``,
      ``nn.MultiheadAttention`` with ``kdim=vdim=768`` -> separate ``q/k/v_proj_weight``);
    - ``ln_contrast`` (``LayerNorm(512)``) and ``proj_contrast`` (``512 x 512`` Parameter).

    ``embedding = normalize(ln_contrast(attn_pool_contrast(trunk(x))[:, 0]) @ proj_contrast)``, i.e. CONCH's
    ``encode_image(normalize=True)``. Assumed checkpoint keys (``visual.`` prefix optional, a ``state_dict``
    wrapper accepted): ``trunk.*``, ``attn_pool_contrast.{query, attn.q_proj_weight, attn.k_proj_weight,
    attn.v_proj_weight, attn.in_proj_bias, attn.out_proj.*, ln_q.*, ln_k.*}``, ``ln_contrast.*``,
    ``proj_contrast``. The captioning pooler and the CoCa text tower/decoder are not built: CONCH's text tower
    needs its own tokenizer, which ships only with the ``conch`` repository, so zero-shot with CONCH needs
    text embeddings from elsewhere; linear probing, adapters and PEFT use this tower alone.

    Args:
        pretrained (str): CONCH checkpoint file (``pytorch_model.bin``/``.safetensors``), a directory holding
            one, or a hub id (``MahmoodLab/CONCH``, gated: log in and accept the licence, CC-BY-NC-ND 4.0).
        image_size (int): Input size. Defaults to 448. patch_size (int): Defaults to 16.
        width (int), depth (int), num_heads (int): Trunk shape. Defaults to 768, 12, 12 (ViT-B).
        embed_dim (int): Joint-space width. Defaults to 512. pool_heads (int): Defaults to 8.
        out_type (str): ``'embedding'`` (default), ``'pooled'`` (``ln_contrast`` output, before projection) or
            ``'tokens'`` (the trunk's patch tokens).
        normalize (bool): L2-normalise the output. Defaults to True.

    Shapes:
        input ``(N, 3, image_size, image_size)`` (OpenAI CLIP mean/std); output: tuple of one ``(N, 512)``.
    """

    def __init__(self,
                 pretrained: str,
                 image_size: int = 448,
                 patch_size: int = 16,
                 width: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 embed_dim: int = 512,
                 pool_heads: int = 8,
                 out_type: str = 'embedding',
                 normalize: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(out_type, normalize, init_cfg)
        path = self._resolve(pretrained)  # fail fast, before building the tower, when weights are missing
        from open_clip.transformer import AttentionalPooler
        from timm.models.vision_transformer import VisionTransformer
        self.trunk = VisionTransformer(img_size=image_size, patch_size=patch_size, embed_dim=width, depth=depth,
                                       num_heads=num_heads, mlp_ratio=4., num_classes=0, dynamic_img_size=True)
        self.attn_pool_contrast = AttentionalPooler(d_model=embed_dim, context_dim=width, n_head=pool_heads,
                                                    n_queries=1, norm_layer=nn.LayerNorm)
        self.ln_contrast = nn.LayerNorm(embed_dim)
        self.proj_contrast = nn.Parameter(torch.empty(embed_dim, embed_dim))
        state = conch_vision_state_dict(load_state_dict_file(path))
        self.load_checked(self, state, path, 'a CONCH-format checkpoint for this tower shape')
        self.pretrained, self.image_size = pretrained, image_size
        self.embed_dim = width if out_type == 'tokens' else embed_dim

    @staticmethod
    def _resolve(pretrained: str) -> str:
        if is_local(pretrained):
            return find_checkpoint(pretrained) if osp.isdir(pretrained) else pretrained
        from huggingface_hub import hf_hub_download
        return load_hf(lambda n: hf_hub_download(n, 'pytorch_model.bin'), pretrained)

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        hidden = self.trunk.forward_features(x)
        feats = dict(pooled=self.ln_contrast(self.attn_pool_contrast(hidden)[:, 0]))
        if tokens:
            feats['tokens'] = hidden[:, self.trunk.num_prefix_tokens:]
        return feats

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        return pooled @ self.proj_contrast.to(pooled.dtype)
