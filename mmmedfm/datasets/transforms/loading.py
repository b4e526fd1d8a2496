"""Image loading with errors that name the file.

MMCV's ``LoadImageFromFile`` reports a missing image as ``[Errno 2] No such file or directory`` without the
path, an empty file as an OpenCV assertion and an undecodable one as ``AssertionError``. This subclass keeps
its behaviour (``color_type='color'`` turns greyscale, RGBA and 16-bit images into 3-channel 8-bit BGR) and
only rewrites the errors. It is registered under the same name in the ``mmmedfm`` scope, so configs with
``default_scope='mmmedfm'`` that say ``type='LoadImageFromFile'`` get it without change.
"""
from typing import Optional

import mmcv
from mmcv.transforms import LoadImageFromFile as _MMCVLoadImageFromFile
from mmengine import fileio

from mmmedfm.registry import TRANSFORMS


class ImageLoadError(ValueError):
    """An image file exists but cannot be decoded (empty, truncated header, not an image)."""


@TRANSFORMS.register_module()
class LoadImageFromFile(_MMCVLoadImageFromFile):
    """MMCV's ``LoadImageFromFile`` whose errors name the image path (and the dataset row's ``image_name``).

    Args: as ``mmcv.transforms.LoadImageFromFile`` (``to_float32``, ``color_type``, ``imdecode_backend``,
    ``ignore_empty``, ``backend_args``).

    Raises:
        FileNotFoundError: The image file does not exist.
        ImageLoadError: The file exists but does not decode to an image.
    """

    def transform(self, results: dict) -> Optional[dict]:
        if self.file_client_args is not None:  # deprecated MMCV path: keep MMCV's behaviour
            return super().transform(results)
        filename = results['img_path']
        where = f' (row image_name={results["image_name"]!r})' if 'image_name' in results else ''
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError:
            if self.ignore_empty:
                return None
            raise FileNotFoundError(f'Image file not found: {filename}{where}') from None
        try:
            img = mmcv.imfrombytes(img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:  # OpenCV/PIL raise various types for empty or broken data
            img, reason = None, f'{e.__class__.__name__}: {str(e).strip().splitlines()[-1]}'
        else:
            reason = 'not a decodable image'
        if img is None:
            if self.ignore_empty:
                return None
            raise ImageLoadError(f'Cannot decode image file {filename}{where} ({len(img_bytes)} bytes): '
                                 f'{reason}.')
        if self.to_float32:
            img = img.astype('float32')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
