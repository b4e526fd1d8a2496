from typing import List

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedfm.registry import MODELS
from ..utils.hub import load_hf

POOLINGS = ('cls', 'pooler', 'mean')


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """BERT-family text encoder via ``AutoModel`` + ``AutoTokenizer`` (BioLinkBERT, PubMedBERT, CXR-BERT...).

    CITE's text side: ``michiyasunaga/BioLinkBERT-large`` with ``pooling='pooler'`` on the raw class names,
    frozen and computed once. No projection: embeddings live in the encoder's hidden width, so a neck must
    project image features to it. Same :meth:`encode` API as :class:`HFCLIPText`.

    Args:
        pretrained (str): Hub id or local directory (``save_pretrained`` layout with tokenizer files).
        pooling (str): ``'cls'`` (first token of ``last_hidden_state``), ``'pooler'`` (``pooler_output``,
            BERT's tanh(dense(CLS))) or ``'mean'`` (attention-mask-weighted mean of the tokens).
            Defaults to ``'pooler'``. A checkpoint saved without pooler weights (e.g. a masked-LM export) is
            refused with ``'pooler'``: its pooler would be freshly random.
        normalize (bool): L2-normalise the embeddings. Defaults to False.
        max_length (int): Truncation length (capped at the tokenizer's). Defaults to 512.
        batch_size (int): Texts per forward pass. Defaults to 256.
        attn_implementation (str): ``'sdpa'`` (default) or ``'eager'``.

    Attributes:
        embed_dim (int): Hidden size. No ``logit_scale`` (heads then use their own, 100 by default).
    """

    def __init__(self,
                 pretrained: str,
                 pooling: str = 'pooler',
                 normalize: bool = False,
                 max_length: int = 512,
                 batch_size: int = 256,
                 attn_implementation: str = 'sdpa'):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}')
        from transformers import AutoModel, AutoTokenizer
        self.model, info = load_hf(AutoModel.from_pretrained, pretrained, attn_implementation=attn_implementation,
                                   output_loading_info=True)
        if pooling == 'pooler':
            missing = [k for k in info.get('missing_keys', ()) if 'pooler' in k]
            if missing or getattr(self.model, 'pooler', None) is None:
                raise ValueError(f'HFTextEncoder(pooling=\'pooler\'): {pretrained!r} has no trained pooler weights '
                                 f'({missing or "no pooler layer"}); its pooler output would be random. Use '
                                 "pooling='cls' (first token) or pooling='mean'.")
        self.model.eval().requires_grad_(False)
        self.tokenizer = load_hf(AutoTokenizer.from_pretrained, pretrained)
        self.pooling, self.normalize, self.batch_size = pooling, normalize, batch_size
        self.max_length = min(max_length, self.tokenizer.model_max_length)
        self.embed_dim = self.model.config.hidden_size

    @torch.no_grad()
    def encode(self, texts: List[str]) -> torch.Tensor:
        """Embed ``N`` strings. Returns an ``(N, hidden_size)`` float tensor."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            tok = self.tokenizer(texts[i:i + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors='pt')
            res = self.model(**tok)
            if self.pooling == 'pooler':
                feat = res.pooler_output
            elif self.pooling == 'cls':
                feat = res.last_hidden_state[:, 0]
            else:
                mask = tok['attention_mask'].unsqueeze(-1).to(res.last_hidden_state.dtype)
                feat = (res.last_hidden_state * mask).sum(1) / mask.sum(1).clamp_min(1)
            feat = feat.float()
            out.append(F.normalize(feat, dim=-1) if self.normalize else feat)
        return torch.cat(out)
