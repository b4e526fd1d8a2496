from typing import Dict, Optional, Tuple

import torch
from torch import nn

from mmmedfm.registry import MODELS
from ..utils.open_clip_loader import load_open_clip
from .base_tower import PretrainedTower, has_forward_hooks


def cls_query_block(block: nn.Module, hidden: torch.Tensor, batch_first: bool = True) -> torch.Tensor:
    """The CLS row of an open_clip ``ResidualAttentionBlock``'s output, computing only what that row depends on
    (the open_clip counterpart of :func:`~mmmedfm.models.backbones.hf_clip_vision.cls_query_layer`): the CLS
    query attends over the keys and values of every token; ``ls_1``, ``ln_2``, the MLP and ``ls_2`` run on one
    token. The block's own modules are called (``attn`` may be LoRA-adapted).

    Args:
        block: A ``ResidualAttentionBlock`` without ``ln_1_kv`` (self-attention).
        hidden: ``(N, T, C)`` input tokens, CLS first (batch first whatever the block's layout).
        batch_first: The layout of ``block.attn`` (open_clip's ``transformer.batch_first``).

    Returns:
        ``(N, C)``: row 0 of the block's output.
    """
    normed = block.ln_1(hidden)
    query, kv = normed[:, :1], normed
    if not batch_first:
        query, kv = query.transpose(0, 1), kv.transpose(0, 1)
    out = block.attn(query, kv, kv, need_weights=False)[0]
    out = out[:, 0] if batch_first else out[0]
    cls = hidden[:, 0] + block.ls_1(out)
    return cls + block.ls_2(block.mlp(block.ln_2(cls)))


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


def _is_plain_block(block: nn.Module) -> bool:
    """open_clip's self-attention ``ResidualAttentionBlock`` (not the custom / cross-attention variants)."""
    from open_clip.transformer import ResidualAttentionBlock
    return type(block) is ResidualAttentionBlock and not hasattr(block, 'ln_1_kv')


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
        quick_gelu (bool, optional): QuickGELU activations (OpenAI CLIP weights); None follows the pretrained
            tag, see :func:`~mmmedfm.models.utils.open_clip_loader.load_open_clip`.
        cls_only_last_layer (bool): For the pooled output of a ``VisionTransformer`` that pools its CLS token
            (``pool_type='tok'``, no attentional pooler), compute the last block for that token alone
            (:func:`cls_query_block`); other towers, hooks on the last block (VPT) or gradient checkpointing take
            the full forward. Defaults to True.
        init_cfg (dict, optional): Unused; weights come from ``pretrained``.

    Shapes:
        input ``(N, 3, H, W)`` normalised RGB; output: tuple of one ``(N, D)`` tensor.

    Note:
        open_clip attention blocks are ``nn.MultiheadAttention`` (fused ``in_proj_weight``), which runs the
        fused SDPA kernel at inference; LoRA targets there are ``out_proj``/MLP ``c_fc``/``c_proj``.
    """

    def __init__(self, pretrained: str, model_name: Optional[str] = None, out_type: str = 'embedding',
                 normalize: bool = True, quick_gelu: Optional[bool] = None, cls_only_last_layer: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(out_type, normalize, init_cfg)
        self.cls_only_last_layer = cls_only_last_layer
        model = load_open_clip(pretrained, model_name, quick_gelu=quick_gelu)
        self.pretrained, self.model_name = pretrained, model_name
        self.visual, self.proj = split_projection(model.visual)
        del model
        self.image_size = self.visual.image_size[0]
        with torch.no_grad():
            feats = self.forward_features(torch.zeros(1, 3, *self.visual.image_size), tokens=True)
        self.embed_dim = (self.project(feats['pooled']) if out_type == 'embedding' else feats[out_type]).shape[-1]

    def _pooled_fast(self, x: torch.Tensor) -> Optional[torch.Tensor]:
        """The pooled output with the last block on the CLS token only; None where that path does not apply."""
        v = self.visual
        trans = getattr(v, 'transformer', None)
        blocks = getattr(trans, 'resblocks', None)
        if not (self.cls_only_last_layer and blocks is not None and len(blocks) and hasattr(v, '_embeds')
                and getattr(v, 'pool_type', None) == 'tok' and getattr(v, 'attn_pool', None) is None
                and not getattr(v, 'output_tokens', False) and not trans.grad_checkpointing
                and _is_plain_block(blocks[-1])) or has_forward_hooks(v, trans, blocks[-1], blocks[-1].attn):
            return None
        hidden = v._embeds(x)
        if not trans.batch_first:
            hidden = hidden.transpose(0, 1)
        for block in blocks[:-1]:
            hidden = block(hidden)
        if not trans.batch_first:
            hidden = hidden.transpose(0, 1)
        # ln_post is per token: before or after the CLS pooling (final_ln_after_pool) gives the same row.
        return v.ln_post(cls_query_block(blocks[-1], hidden, trans.batch_first))

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        if not tokens:
            pooled = self._pooled_fast(x)
            return dict(pooled=self.visual(x) if pooled is None else pooled)
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
