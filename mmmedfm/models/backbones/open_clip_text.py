from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedfm.registry import MODELS
from ..utils.open_clip_loader import load_open_clip, open_clip_tokenizer


@MODELS.register_module()
class OpenCLIPText(BaseModule):
    """Text tower of an open_clip model (``encode_text`` -> L2 norm), tokenised by ``open_clip.get_tokenizer``.

    Same API as :class:`HFCLIPText`: :meth:`encode` (batched, ``torch.no_grad``) and ``logit_scale``.

    Args:
        pretrained (str): As :class:`OpenCLIPVision` (``hf-hub:`` id, local dir, checkpoint file or tag).
        model_name (str, optional): open_clip architecture; needed with a tag or a file.
        batch_size (int): Prompts encoded per forward pass. Defaults to 256.

    Attributes:
        logit_scale (float): The checkpoint's ``logit_scale.exp()``.
        embed_dim (int): Output width.
    """

    def __init__(self, pretrained: str, model_name: Optional[str] = None, batch_size: int = 256):
        super().__init__()
        model = load_open_clip(pretrained, model_name)
        self.tokenizer = open_clip_tokenizer(pretrained, model_name)
        self.logit_scale = float(model.logit_scale.detach().exp())
        del model.visual  # only encode_text is used
        self.model = model.requires_grad_(False)
        self.batch_size = batch_size
        self.embed_dim = int(self.encode(['a']).shape[-1])

    @torch.no_grad()
    def encode(self, texts: List[str], normalize: bool = True) -> torch.Tensor:
        """Embed ``N`` strings. Returns an ``(N, D)`` tensor, unit-norm unless ``normalize=False``."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(texts[i:i + self.batch_size])
            emb = self.model.encode_text(tokens).float()
            out.append(F.normalize(emb, dim=-1) if normalize else emb)
        return torch.cat(out)
