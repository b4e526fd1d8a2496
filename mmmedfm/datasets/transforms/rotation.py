import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from mmmedfm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomRot90(BaseTransform):
    """Rotate the image by a random multiple of 90 degrees (tissue patches have no canonical orientation).

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``.

    Args:
        prob (float): Probability of rotating at all. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5):
        self.prob = prob

    @cache_randomness
    def _draw(self) -> int:
        return int(np.random.randint(1, 4)) if np.random.rand() < self.prob else 0

    def transform(self, results: dict) -> dict:
        k = self._draw()
        if k:
            results['img'] = np.ascontiguousarray(np.rot90(results['img'], k))
            results['img_shape'] = results['img'].shape[:2]
        return results
