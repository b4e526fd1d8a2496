import math
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from mmmedfm.registry import MODELS
from .fusion import CoAttentionLayer
from .loss import info_nce_loss

FUSIONS = ('unimodal', 'paired')


@MODELS.register_module()
class AdaptorVL(BaseModel):
    """Adaptor: vision–language alignment of two frozen unimodal encoders from their cached embeddings.

    After "Freeze the Backbone: A Parameter-Efficient Contrastive Approach to Robust Medical Vision-Language
    Pre-training" (Adaptor-VL-SSL, Imperial College London MSc thesis). Inputs are the frozen encoders' cached
    outputs (see :func:`mmmedfm.apis.unimodal.extract_unimodal`); no encoder is built or run here. Each modality
    is projected to ``width``, a learned ``[CLS]`` token is prepended to the image tokens, ``depth``
    :class:`CoAttentionLayer` s fuse the two streams (image tokens attend to text tokens and vice versa), and
    linear heads map the image ``[CLS]`` and the text ``[CLS]`` (first caption token) into the joint space
    (``embed_dim``, L2-normalised). Loss: symmetric InfoNCE with learnable temperature, same-caption pairs
    removed from the denominators (:func:`info_nce_loss`).

    ``fusion`` chooses the cross-attention context of the contrastive embeddings:

    * ``'unimodal'`` (default): each modality cross-attends to ``num_null`` learned context tokens standing in
      for the other modality (the seed's "dummy embeddings" at inference, here also used in training), so an
      image embedding depends on the image only. Training and retrieval/zero-shot use the same embeddings.
    * ``'paired'``: the seed's training recipe, each pair fused with its own partner; inference (no partner)
      uses the null tokens. With probability ``context_dropout`` a training pair uses the null tokens too.
      Beware: the in-batch logits then compare embeddings that each saw their own partner, which a model can
      exploit by copying the caption into the image stream (text–text matching); use for ablations.

    Args:
        image_dim (int): Width ``D_v`` of the cached image embeddings (DINOv2-B 768, UNI 1024).
        text_dim (int): Width ``D_t`` of the cached caption token embeddings (BERT-base 768, -large 1024).
        width (int): Fusion width ``W``. Defaults to 256.
        depth (int): Number of co-attention layers. Defaults to 2.
        heads (int): Attention heads. Defaults to 4.
        mlp_ratio (float): MLP ratio of the fusion layers. Defaults to 4.
        embed_dim (int): Joint-space width. Defaults to 256.
        dropout (float): Dropout in the fusion layers. Defaults to 0.1.
        num_null (int): Learned context tokens per modality. Defaults to 1.
        fusion (str): ``'unimodal'`` or ``'paired'`` (see above). Defaults to ``'unimodal'``.
        context_dropout (float): ``'paired'`` only. Defaults to 0.5.
        logit_scale_init (float): Initial ``1 / temperature``. Defaults to 1 / 0.07 (CLIP).
        max_logit_scale (float, optional): Clamp of ``1 / temperature``. Defaults to 100 (CLIP); ``None``
            leaves it unclamped (Adaptor-VL-SSL).
        image_weight (float): Weight of the text->image term of the InfoNCE loss (the caption-to-image softmax
            over images); the image->text term gets ``1 - image_weight``. Defaults to 0.5 (symmetric, CLIP);
            Adaptor-VL-SSL uses 0.75.
        mask_same_caption (bool): Drop same-caption pairs from the InfoNCE denominators. Defaults to True.

    Inputs (a batch of :class:`~mmmedfm.datasets.CachedPairDataset`):
        ``image (B, D_v)`` pooled or ``(B, 1 + T, D_v)`` pooled + patch tokens; ``text (B, L, D_t)``;
        ``text_mask (B, L)`` (1 = token); ``caption_index (B,)``; ``label (B,)``.
    """

    def __init__(self, image_dim: int, text_dim: int, width: int = 256, depth: int = 2, heads: int = 4,
                 mlp_ratio: float = 4., embed_dim: int = 256, dropout: float = 0.1, num_null: int = 1,
                 fusion: str = 'unimodal', context_dropout: float = 0.5, logit_scale_init: float = 1 / 0.07,
                 max_logit_scale: Optional[float] = 100., mask_same_caption: bool = True, image_weight: float = 0.5,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if fusion not in FUSIONS:
            raise ValueError(f'model.fusion must be one of {FUSIONS}, got {fusion!r}')
        self.image_dim, self.text_dim = image_dim, text_dim
        self.fusion, self.context_dropout, self.mask_same_caption = fusion, context_dropout, mask_same_caption
        self.image_in = nn.Sequential(nn.LayerNorm(image_dim), nn.Linear(image_dim, width))
        self.text_in = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, width))
        self.image_cls = nn.Parameter(torch.zeros(1, 1, width))
        self.type_embed = nn.Parameter(torch.zeros(2, width))
        self.null_image = nn.Parameter(torch.randn(1, num_null, width) * .02)
        self.null_text = nn.Parameter(torch.randn(1, num_null, width) * .02)
        self.layers = nn.ModuleList(CoAttentionLayer(width, heads, mlp_ratio, dropout) for _ in range(depth))
        self.image_proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, embed_dim, bias=False))
        self.text_proj = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, embed_dim, bias=False))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(logit_scale_init)))
        self.max_log_scale = None if max_logit_scale is None else math.log(max_logit_scale)
        if not 0 <= image_weight <= 1:
            raise ValueError(f'model.image_weight must be in [0, 1], got {image_weight}')
        self.image_weight = image_weight
        self.embed_dim = embed_dim

    # -- embedding -------------------------------------------------------------------------------------------
    def scale(self) -> torch.Tensor:
        """``exp(logit_scale)`` clamped to ``[1, max_logit_scale]`` (unclamped when ``max_logit_scale=None``)."""
        if self.max_log_scale is None:
            return self.logit_scale.exp()
        return self.logit_scale.clamp(0, self.max_log_scale).exp()

    def _image_tokens(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[-1] != self.image_dim:
            raise ValueError(f'cached image embeddings have width {image.shape[-1]} but model.image_dim='
                             f'{self.image_dim}; set model.image_dim to the vision encoder width.')
        image = image.float()
        x = self.image_in(image if image.ndim == 3 else image[:, None]) + self.type_embed[0]
        return torch.cat([self.image_cls.expand(len(x), -1, -1), x], 1)

    def _text_tokens(self, text: torch.Tensor, text_mask: Optional[torch.Tensor]):
        if text.shape[-1] != self.text_dim:
            raise ValueError(f'cached text embeddings have width {text.shape[-1]} but model.text_dim='
                             f'{self.text_dim}; set model.text_dim to the text encoder width.')
        pad = None if text_mask is None else ~text_mask.bool()
        return self.text_in(text.float()) + self.type_embed[1], pad

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """Joint-space image embeddings ``(B, embed_dim)``, L2-normalised; context = null text tokens."""
        x = self._image_tokens(image)
        ctx = self.null_text.expand(len(x), -1, -1)
        for layer in self.layers:
            x = layer._stream(layer.image, x, None, ctx, None)
        return F.normalize(self.image_proj(x[:, 0]), dim=-1)

    def encode_text(self, text: torch.Tensor, text_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Joint-space text embeddings ``(B, embed_dim)``, L2-normalised; context = null image tokens."""
        x, pad = self._text_tokens(text, text_mask)
        ctx = self.null_image.expand(len(x), -1, -1)
        for layer in self.layers:
            x = layer._stream(layer.text, x, pad, ctx, None)
        return F.normalize(self.text_proj(x[:, 0]), dim=-1)

    def _pair_embeddings(self, image, text, text_mask, caption_index=None):
        if self.fusion == 'unimodal' or not self.training:
            if caption_index is None:
                return self.encode_image(image), self.encode_text(text, text_mask)
            # Many pairs share their slide's caption: encode each distinct caption of the batch once.
            uniq, inv = caption_index.unique(return_inverse=True)
            first = torch.full((len(uniq), ), len(inv), device=inv.device).scatter_reduce(
                0, inv, torch.arange(len(inv), device=inv.device), reduce='amin')
            mask = None if text_mask is None else text_mask[first]
            return self.encode_image(image), self.encode_text(text[first], mask)[inv]
        # 'paired': each stream cross-attends to its partner's tokens, or (context dropout) to the null tokens:
        # context = [null tokens; partner tokens] with a padding mask that keeps exactly one of the two parts.
        i = self._image_tokens(image)
        t, pad = self._text_tokens(text, text_mask)
        b, n_null = len(i), self.null_text.shape[1]
        if pad is None:
            pad = torch.zeros(t.shape[:2], dtype=torch.bool, device=t.device)
        null = (torch.rand(b, device=i.device) < self.context_dropout)[:, None]
        keep_null = (~null).expand(b, n_null)
        pad_t = torch.cat([keep_null, pad | null], 1)
        pad_i = torch.cat([keep_null, null.expand(b, i.shape[1])], 1)
        for layer in self.layers:
            ctx_t = torch.cat([self.null_text.expand(b, -1, -1), t], 1)
            ctx_i = torch.cat([self.null_image.expand(b, -1, -1), i], 1)
            i, t = (layer._stream(layer.image, i, None, ctx_t, pad_t),
                    layer._stream(layer.text, t, pad, ctx_i, pad_i))
        return F.normalize(self.image_proj(i[:, 0]), dim=-1), F.normalize(self.text_proj(t[:, 0]), dim=-1)

    # -- MMEngine API ----------------------------------------------------------------------------------------
    def forward(self, image: torch.Tensor, text: Optional[torch.Tensor] = None,
                text_mask: Optional[torch.Tensor] = None, caption_index: Optional[torch.Tensor] = None,
                label: Optional[torch.Tensor] = None, mode: str = 'tensor', **kwargs
                ) -> Union[Dict[str, torch.Tensor], List[dict], tuple]:
        """``mode='loss'``: ``{'loss', 'logit_scale'}``; ``'predict'``: one dict per pair (``image_emb``,
        ``text_emb``, ``caption_index``, ``label``); ``'tensor'``: ``(image_emb, text_emb)``."""
        img_emb, txt_emb = self._pair_embeddings(image, text, text_mask, caption_index)
        if mode == 'tensor':
            return img_emb, txt_emb
        if mode == 'loss':
            groups = caption_index if self.mask_same_caption else None
            return dict(loss=info_nce_loss(img_emb, txt_emb, self.scale(), groups, self.image_weight),
                        logit_scale=self.scale().detach())
        if mode == 'predict':
            n = len(img_emb)
            cap = caption_index if caption_index is not None else torch.full((n, ), -1)
            lab = label if label is not None else torch.full((n, ), -1)
            return [dict(image_emb=img_emb[i].detach().cpu(), text_emb=txt_emb[i].detach().cpu(),
                         caption_index=int(cap[i]), label=int(lab[i])) for i in range(n)]
        raise ValueError(f'Invalid mode {mode!r}')
