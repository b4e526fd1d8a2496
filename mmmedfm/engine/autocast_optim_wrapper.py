"""Mixed precision without loss scaling: bf16 autocast around the forward, on any device MMEngine supports."""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast
from torch import nn

from mmmedfm.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward under MMEngine's ``autocast`` (``tools/train.py
    --amp`` on a machine without an accelerator).

    MMEngine's ``AmpOptimWrapper`` refuses to start without a GPU/NPU/MLU/MUSA and carries a ``GradScaler``
    that only fp16 needs; CPU autocast supports bf16 only, whose exponent range needs no loss scaling. The
    parameters and the optimizer state stay fp32; only the autocast-eligible ops (matmuls, linear, conv) run
    in ``dtype``.

    Args:
        dtype (str | torch.dtype): Autocast dtype. Defaults to ``'bfloat16'``.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs):
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), autocast(dtype=self.cast_dtype):
            yield
