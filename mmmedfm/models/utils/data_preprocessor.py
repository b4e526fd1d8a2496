import os.path as osp
from typing import Optional, Sequence, Tuple

import torch

from mmpretrain.models.utils import ClsDataPreprocessor

from mmmedfm.registry import MODELS
from mmmedfm.utils.image_resize import center_crop, is_resized, resize_image
from .hub import is_local, read_json_config
from .open_clip_loader import open_clip_norm


def image_norm_from_model(pretrained: str, model_name: Optional[str] = None
                          ) -> Tuple[Sequence[float], Sequence[float]]:
    """Mean/std in 0-255 units, read from the model's own preprocessing config.

    Looks at ``preprocessor_config.json`` / ``processor_config.json`` (HF image processors) and then ``open_clip_config.json``
    (``preprocess_cfg``), so swapping the backbone swaps the normalisation. With ``model_name`` (an open_clip
    architecture) and ``pretrained`` a tag (``openai``) or a checkpoint file, open_clip's own values for that
    model/tag are used. ``hf-hub:`` ids are read from the hub/cache without the prefix.

    Raises:
        KeyError: The model ships neither file; give ``mean``/``std`` in the config instead.
    """
    if model_name is not None and (osp.isfile(pretrained) or not (is_local(pretrained) or '/' in pretrained)):
        mean, std = open_clip_norm(pretrained, model_name)
        return [255. * m for m in mean], [255. * s for s in std]
    if osp.isfile(pretrained):
        raise KeyError(f'Cannot read image mean/std from the checkpoint file {pretrained!r}; set '
                       '`model.data_preprocessor.mean` and `.std` (or `model_name` for an open_clip model).')
    if pretrained.startswith('hf-hub:'):
        pretrained = pretrained[len('hf-hub:'):]
    hf = read_json_config(pretrained, 'preprocessor_config.json') or \
        (read_json_config(pretrained, 'processor_config.json') or {}).get('image_processor')
    if hf and 'image_mean' in hf:
        mean, std = hf['image_mean'], hf['image_std']
    else:
        oc = read_json_config(pretrained, 'open_clip_config.json') or {}
        pre = oc.get('preprocess_cfg', {})
        if 'mean' not in pre:
            raise KeyError(f'Model {pretrained!r} has no preprocessor_config.json or open_clip_config.json '
                           'with image mean/std; set `model.data_preprocessor.mean` and `.std` in the config.')
        mean, std = pre['mean'], pre['std']
    return [255. * m for m in mean], [255. * s for s in std]


@MODELS.register_module()
class VLMDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` whose mean/std default to the pretrained model's own preprocessing config, and
    which applies the model's own resize (``resize``), so a model base carries its full preprocessing.

    Args:
        pretrained (str, optional): Hub id or local dir of the foundation model. When ``mean``/``std`` are
            not given they are read from it. :class:`VLMClassifier` fills this from its ``foundation_model``.
        model_name (str, optional): open_clip architecture (``ViT-B-16``) when ``pretrained`` is an open_clip
            tag (``openai``) or a checkpoint file; see :func:`image_norm_from_model`.
        mean, std (Sequence[float], optional): Explicit constants (0-255 units); override the model's.
        to_rgb (bool): Images are loaded as BGR by ``LoadImageFromFile``; VLMs expect RGB. Defaults to True.
        resize (dict, optional): ``dict(size, crop_size=None, interpolation='bicubic')``: each image's shorter
            side to ``size`` (antialiased, like the model's reference processor), then a ``crop_size`` centre
            crop; see :func:`mmmedfm.utils.image_resize.resize_image`. None: images arrive at the input size.
            Applied before ``augment``. A batch whose shorter side is already ``size`` (read from a
            decoded-image cache, which stores this resize) is only centre-cropped, a slice that keeps it uint8:
            ``resize_image`` would not interpolate it either, so the numbers are the same.
        augment (dict, optional): A :class:`TensorAugment` config: per-sample flips / quarter turns / colour
            jitter of the training batch on the device (before normalisation), seeded by each sample's
            ``sample_idx`` and the training iteration. Defaults to None (augment in the dataset pipeline).
        **kwargs: Other ``ClsDataPreprocessor`` arguments.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 model_name: Optional[str] = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = True,
                 resize: Optional[dict] = None,
                 augment: Optional[dict] = None,
                 **kwargs):
        if mean is None and pretrained is not None:
            mean, std = image_norm_from_model(pretrained, model_name)
        super().__init__(mean=mean, std=std, to_rgb=to_rgb, **kwargs)
        if resize is not None and (not isinstance(resize, dict) or 'size' not in resize
                                   or set(resize) - {'size', 'crop_size', 'interpolation'}):
            raise KeyError(f'model.data_preprocessor.resize must be dict(size, crop_size=None, '
                           f"interpolation='bicubic'), got {resize!r}")
        self.resize = dict(resize) if resize else None
        self.augment = MODELS.build(dict(dict(type='TensorAugment'), **augment)) if augment is not None else None

    def forward(self, data: dict, training: bool = False) -> dict:
        if self.resize and all(is_resized(*img.shape[-2:], self.resize['size']) for img in data['inputs']):
            crop, inputs = self.resize.get('crop_size'), data['inputs']
            data = dict(data, inputs=center_crop(inputs, crop) if isinstance(inputs, torch.Tensor) else
                        [center_crop(img, crop) for img in inputs])
        elif self.resize:
            inputs = self.cast_data(data['inputs'])
            data = dict(data, inputs=[resize_image(img, **self.resize) for img in inputs])
        if training and self.augment is not None:
            from mmengine.logging import MessageHub
            inputs = self.cast_data(data['inputs'])
            inputs = torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs
            index = torch.tensor([int(s.metainfo['sample_idx']) for s in data['data_samples']],
                                 device=inputs.device)
            step = MessageHub.get_current_instance().get_info('iter', 0)
            data = dict(data, inputs=self.augment(inputs, index, step=step, bgr=self.to_rgb))
        inputs = data['inputs']
        if not (isinstance(inputs, torch.Tensor) and self._enable_normalize and self.pad_size_divisor <= 1):
            return super().forward(data, training)
        # Batched tensor: channel swap on the (uint8) input and in-place normalisation, one float buffer
        # instead of three; the same numbers as the parent's ``(x.flip(1).float() - mean) / std``.
        inputs = self.cast_data(inputs)
        if self.to_rgb and inputs.size(1) == 3:
            inputs = inputs.flip(1)
        inputs = inputs.float().sub_(self.mean).div_(self.std) if not inputs.is_floating_point() else \
            (inputs.float() - self.mean) / self.std
        to_rgb, self.to_rgb, self._enable_normalize = self.to_rgb, False, False
        try:  # the parent now only collates the labels / batch augments
            return super().forward(dict(data, inputs=inputs), training)
        finally:
            self.to_rgb, self._enable_normalize = to_rgb, True
