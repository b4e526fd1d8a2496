from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from ..utils.hub import load_hf
from .base_tower import PretrainedTower, has_forward_hooks


def cls_query_layer(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """The CLS row of an HF ``CLIPEncoderLayer``'s output, computing only what that row depends on.

    The pooled output reads the last layer's CLS token alone, and in a transformer layer the other rows of the
    output never reach it: only the keys and values of all tokens do. So the CLS query attends over every token
    and the attention output projection, ``layer_norm2`` and the MLP run on one token instead of ``1 + L``
    (with 4 x width MLPs that is ~80 % of the layer's matrix products). The same modules are called (LoRA,
    BitFit, LN-affine adapted or not), so outputs and gradients equal the full layer's up to float rounding.
    HF's ``sdpa`` attention without a mask, written with ``F.scaled_dot_product_attention`` as HF calls it.

    Args:
        layer: A ``CLIPEncoderLayer`` (``layer_norm1``, ``self_attn.{q,k,v,out}_proj``, ``layer_norm2``,
            ``mlp``).
        hidden: ``(N, T, C)`` input tokens of the layer, CLS first.

    Returns:
        ``(N, C)``: row 0 of the layer's ``(N, T, C)`` output.
    """
    attn = layer.self_attn
    n, t, c = hidden.shape
    heads, dim = attn.num_heads, attn.head_dim
    normed = layer.layer_norm1(hidden)
    query = attn.q_proj(normed[:, :1]).view(n, 1, heads, dim).transpose(1, 2)
    key = attn.k_proj(normed).view(n, t, heads, dim).transpose(1, 2)
    value = attn.v_proj(normed).view(n, t, heads, dim).transpose(1, 2)
    out = F.scaled_dot_product_attention(query, key, value, dropout_p=attn.dropout if attn.training else 0.,
                                         scale=attn.scale)
    cls = hidden[:, 0] + attn.out_proj(out.reshape(n, c))
    return cls + layer.mlp(layer.layer_norm2(cls))


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
        cls_only_last_layer (bool): When only the pooled output is needed, compute the last layer for the CLS
            token alone (:func:`cls_query_layer`; same numbers up to float rounding, ~80 % less work in that
            layer). Used with ``sdpa`` attention and no hooks on the last layer (VPT's, output capture),
            otherwise the full HF forward runs. Defaults to True.
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
                 cls_only_last_layer: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(out_type, normalize, init_cfg)
        from transformers import CLIPModel

        # The whole CLIPModel is loaded (the vision-only class would not read ``projection_dim`` from a
        # CLIPModel config); the text tower is dropped right away.
        model = load_hf(CLIPModel.from_pretrained, pretrained, attn_implementation=attn_implementation)
        self.pretrained = pretrained
        self.cls_only_last_layer = cls_only_last_layer
        self.vision_model = model.vision_model
        self.visual_projection = model.visual_projection
        self.image_size = model.config.vision_config.image_size
        self.embed_dim = (model.config.projection_dim if out_type == 'embedding' else
                          model.config.vision_config.hidden_size)

    def _pooled_fast(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """``pooler_output`` with the last layer on the CLS token only; None where that path does not apply."""
        vm = self.vision_model
        layers = vm.encoder.layers
        if not (self.cls_only_last_layer and vm.config._attn_implementation == 'sdpa') or \
                has_forward_hooks(vm, vm.encoder, layers[-1], layers[-1].self_attn):
            return None
        hidden = vm.pre_layrnorm(vm.embeddings(x))
        for layer in layers[:-1]:
            hidden = layer(hidden, None)
        return vm.post_layernorm(cls_query_layer(layers[-1], hidden))

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        pooled = None if tokens else self._pooled_fast(x)
        if pooled is not None:
            return dict(pooled=pooled)
        out = self.vision_model(pixel_values=x)
        feats = dict(pooled=out.pooler_output)
        if tokens:
            feats['tokens'] = out.last_hidden_state[:, 1:]
        return feats

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.visual_projection(pooled)
