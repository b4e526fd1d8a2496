from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmedfm.registry import MODELS
from ..peft import apply_peft
from ..utils.hub import load_hf

POOLINGS = ('cls', 'mean', 'pooler')


@MODELS.register_module()
class HFVisionBackbone(BaseModule):
    """Vision-only Hugging Face model loaded with ``AutoModel`` (DINOv2, ViT, ...), for probing/PEFT without text.

    Args:
        pretrained (str): Hub id (``facebook/dinov2-base``) or local directory (``save_pretrained`` layout).
        pooling (str): ``'cls'`` (first token of ``last_hidden_state``; DINOv2's is already layer-normed),
            ``'mean'`` (mean of the patch tokens, skipping the class and any register tokens) or ``'pooler'``
            (the model's ``pooler_output``). Defaults to ``'cls'``.
        normalize (bool): L2-normalise the output. Defaults to False (linear probes usually want raw features).
        peft (list[dict], optional): PEFT methods, see :func:`mmmedfm.models.peft.apply_peft`.
        attn_implementation (str): ``'sdpa'`` (default) or ``'eager'``.

    Shapes:
        input ``(N, 3, H, W)`` normalised RGB (mean/std from the model's ``preprocessor_config.json``);
        output: tuple of one ``(N, hidden_size)`` tensor.
    """

    def __init__(self,
                 pretrained: str,
                 pooling: str = 'cls',
                 normalize: bool = False,
                 peft: Optional[List[dict]] = None,
                 attn_implementation: str = 'sdpa',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if pooling not in POOLINGS:
            raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}')
        from transformers import AutoModel
        self.model = load_hf(AutoModel.from_pretrained, pretrained, attn_implementation=attn_implementation)
        config = self.model.config
        self.pretrained, self.pooling, self.normalize = pretrained, pooling, normalize
        self.num_prefix_tokens = 1 + int(getattr(config, 'num_register_tokens', 0) or 0)
        self.image_size = getattr(config, 'image_size', None)
        self.embed_dim = config.hidden_size
        self.peft_summary = apply_peft(self, peft)

    def init_weights(self):
        """Pretrained weights are loaded in ``__init__``; never re-initialise them."""

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        out = self.model(pixel_values=x)
        if self.pooling == 'pooler':
            feat = out.pooler_output
        elif self.pooling == 'cls':
            feat = out.last_hidden_state[:, 0]
        else:
            feat = out.last_hidden_state[:, self.num_prefix_tokens:].mean(1)
        if self.normalize:
            feat = F.normalize(feat, dim=-1)
        return (feat, )
