import numpy as np
from mmcv.transforms import BaseTransform

from mmmedfm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class Rot90(BaseTransform):
    """Rotate the image by a fixed ``k`` x 90 degrees counter-clockwise (``np.rot90``), deterministically.

    For test-time augmentation (one view per ``k``); :class:`RandomRot90` is the training-time random version.
    Required keys: ``img``. Modified keys: ``img``, ``img_shape``. Added keys: ``rot90_k``.

    Args:
        k (int): Number of quarter turns; any integer (taken modulo 4). Defaults to 1.
    """

    def __init__(self, k: int = 1):
        if int(k) != k:
            raise ValueError(f'Rot90: k must be an integer, got {k!r}.')
        self.k = int(k) % 4

    def transform(self, results: dict) -> dict:
        if self.k:
            results['img'] = np.ascontiguousarray(np.rot90(results['img'], self.k))
        results['img_shape'] = results['img'].shape[:2]
        results['rot90_k'] = self.k
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(k={self.k})'
