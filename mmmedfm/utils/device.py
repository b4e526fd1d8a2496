"""The one way the library picks a device and a precision for frozen-encoder inference (MMEngine's helpers)."""
import os
from typing import Optional

import torch
from mmengine.device import get_device
from mmengine.runner.amp import autocast


def inference_device(device: Optional[str] = None) -> torch.device:
    """``device`` if given, else MMEngine's device type; CUDA means this rank's GPU (``LOCAL_RANK``)."""
    if device:
        return torch.device(device)
    kind = get_device()
    if kind == 'cuda':
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
    return torch.device(kind)


def inference_autocast(device: torch.device, enabled: Optional[bool] = None):
    """bf16 autocast (MMEngine's ``autocast``); on by default on CUDA only, where it is fast and exact enough
    for frozen embeddings. CPU bf16 is slower than fp32 on most CPUs, so it is opt-in (``enabled=True``)."""
    on = device.type == 'cuda' if enabled is None else enabled
    return autocast(device_type=device.type, dtype=torch.bfloat16, enabled=on)
