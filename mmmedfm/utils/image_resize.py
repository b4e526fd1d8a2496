"""Reference-style image resizing on tensors: shortest edge to ``size`` (antialiased), then a centre crop.

This is what the models' own processors do (HF ``CLIPImageProcessor``, open_clip's and CONCH's torchvision
``Resize(size, BICUBIC) + CenterCrop``, DINOv2's ``Resize(256) + CenterCrop(224)``) on PIL images; torch's
``antialias=True`` kernels follow PIL's, and the result is rounded to integers as PIL's uint8 output is.
"""
from typing import Optional

import torch
import torch.nn.functional as F


def resized_shape(height: int, width: int, size: int):
    """torchvision/HF rule: the shorter side becomes ``size``, the longer ``int(size * long / short)``."""
    if height <= width:
        return size, int(size * width / height)
    return int(size * height / width), size


def is_resized(height: int, width: int, size: int) -> bool:
    """Whether :func:`resize_image` skips the interpolation of an ``height x width`` image (its shorter side is
    already ``size``, e.g. read from a decoded-image cache): only the centre crop is left to do."""
    return resized_shape(height, width, size) == (height, width)


def center_crop(img: torch.Tensor, crop_size: Optional[int]) -> torch.Tensor:
    """The ``crop_size`` square centre crop of ``(..., H, W)`` (torchvision's offsets; a view). None: ``img``.

    Raises:
        ValueError: ``crop_size`` exceeds the shorter side.
    """
    h, w = img.shape[-2:]
    if crop_size is None or (h, w) == (crop_size, crop_size):
        return img
    if crop_size > min(h, w):
        raise ValueError(f'crop_size {crop_size} exceeds the resized image {h}x{w}')
    top, left = int(round((h - crop_size) / 2.)), int(round((w - crop_size) / 2.))
    return img[..., top:top + crop_size, left:left + crop_size]


def resize_image(img: torch.Tensor, size: int, crop_size: Optional[int] = None,
                 interpolation: str = 'bicubic') -> torch.Tensor:
    """Resize one ``(C, H, W)`` image with values in 0-255 (any dtype) and centre-crop it.

    Args:
        img: ``(C, H, W)`` tensor, 0-255.
        size: Target of the shorter side.
        crop_size: Side of the square centre crop (torchvision's offsets); None keeps the resized image.
        interpolation: ``'bicubic'`` or ``'bilinear'`` (antialiased either way).

    Returns:
        ``(C, crop, crop)`` (or the resized shape) float tensor, rounded to integers in 0-255.
    """
    if interpolation not in ('bicubic', 'bilinear'):
        raise ValueError(f"interpolation must be 'bicubic' or 'bilinear', got {interpolation!r}")
    h, w = img.shape[-2:]
    new_h, new_w = resized_shape(h, w, size)
    out = img.float()
    if (new_h, new_w) != (h, w):
        out = F.interpolate(out[None], size=(new_h, new_w), mode=interpolation, align_corners=False,
                            antialias=True)[0].clamp_(0, 255).round_()
    return center_crop(out, crop_size)
