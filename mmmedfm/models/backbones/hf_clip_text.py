from typing import List

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedfm.registry import MODELS
from ..utils.hub import load_hf


@MODELS.register_module()
class HFCLIPText(BaseModule):
    """Text tower of a Hugging Face ``CLIPModel`` checkpoint: ``pooler_output`` -> ``text_projection`` -> L2 norm.

    Used to embed class prompts once (frozen); :meth:`encode` runs batched under ``torch.no_grad``.

    Args:
        pretrained (str): Hub id or local directory of a ``CLIPModel`` checkpoint.
        max_length (int): Tokeniser truncation length. Defaults to 77.
        batch_size (int): Prompts encoded per forward pass. Defaults to 256.

    Attributes:
        logit_scale (float): The checkpoint's ``logit_scale.exp()`` (100 for OpenAI CLIP).
    """

    def __init__(self, pretrained: str, max_length: int = 77, batch_size: int = 256):
        super().__init__()
        from transformers import AutoTokenizer, CLIPModel
        model = load_hf(CLIPModel.from_pretrained, pretrained, attn_implementation='sdpa')
        self.tokenizer = load_hf(AutoTokenizer.from_pretrained, pretrained)
        self.text_model = model.text_model.eval().requires_grad_(False)
        self.text_projection = model.text_projection.eval().requires_grad_(False)
        self.logit_scale = float(model.logit_scale.detach().exp())
        self.embed_dim = model.config.projection_dim
        self.max_length = max_length
        self.batch_size = batch_size

    @torch.no_grad()
    def encode(self, texts: List[str], normalize: bool = True) -> torch.Tensor:
        """Embed ``N`` strings. Returns an ``(N, D)`` tensor, unit-norm unless ``normalize=False``."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            tok = self.tokenizer(texts[i:i + self.batch_size], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors='pt')
            pooled = self.text_model(input_ids=tok['input_ids'],
                                     attention_mask=tok['attention_mask']).pooler_output
            emb = self.text_projection(pooled)
            out.append(F.normalize(emb, dim=-1) if normalize else emb)
        return torch.cat(out)
