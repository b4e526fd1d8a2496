from mmmedfm.registry import MODELS
from .base import BaseAdapter


@MODELS.register_module()
class ZeroShotAdapter(BaseAdapter):
    """Zero-shot CLIP (Radford et al., ICML 2021): ``logits = logit_scale * x @ zs_weights^T``.

    No labels are used (``fit`` only stores the prototypes), so there are no hyper-parameters; it is the
    reference row of every few-shot table.
    """

    def _fit(self, x, y, val):
        pass

    def forward(self, x):
        return self.zero_shot_logits(x)
