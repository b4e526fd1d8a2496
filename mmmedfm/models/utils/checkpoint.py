"""Read local weight files safely (safetensors, or torch files with ``weights_only=True``; never pickle)."""
import glob
import os.path as osp
from typing import Dict

import torch

from mmmedfm.utils.compat import safe_torch_load
from .hub import ModelNotAvailableError

CHECKPOINT_NAMES = ('model.safetensors', 'open_clip_model.safetensors', 'open_clip_pytorch_model.bin',
                    'pytorch_model.bin', 'model.pth', 'checkpoint.pth')


def find_checkpoint(directory: str) -> str:
    """The weight file in ``directory``: a known name first, else the only ``*.safetensors/*.bin/*.pth``."""
    for name in CHECKPOINT_NAMES:
        if osp.isfile(osp.join(directory, name)):
            return osp.join(directory, name)
    found = sorted(f for ext in ('safetensors', 'bin', 'pth', 'pt') for f in glob.glob(osp.join(directory, f'*.{ext}')))
    if len(found) != 1:
        raise ModelNotAvailableError(f'Expected one checkpoint file in {directory!r} (e.g. {CHECKPOINT_NAMES[0]} '
                                     f'or pytorch_model.bin), found {[osp.basename(f) for f in found]}.')
    return found[0]


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Load a state dict from ``*.safetensors`` or a torch file (``weights_only=True``)."""
    if not osp.isfile(path):
        raise ModelNotAvailableError(f'Checkpoint file {path!r} does not exist.')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    state = safe_torch_load(path, map_location='cpu')
    if not isinstance(state, dict):
        raise TypeError(f'{path} does not hold a state dict (got {type(state).__name__}).')
    return state
