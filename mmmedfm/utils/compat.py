"""Workarounds for the pinned OpenMMLab stack, applied once when ``mmmedfm`` is imported.

Each workaround names the breakage it handles so that it can be dropped when upstream fixes it:

1. ``torch.load`` safety. torch >= 2.6 defaults to ``weights_only=True``; onedl-mmengine 0.10.12 tries that
   with an allow-list but *silently falls back to full unpickling* when it fails, which would execute code
   from a malicious checkpoint. We replace ``mmengine.runner.checkpoint._safe_torch_load`` with a loader
   that always uses ``weights_only=True`` (plus MMEngine's own allow-list, which covers resume state such as
   ``HistoryBuffer``) and raises a clear error naming the file otherwise.
2. ``pkg_resources``: setuptools >= 82 removed it. The onedl forks no longer import it; upstream mmpretrain
   1.2 does (for ``mmpretrain::`` configs). We check at import time and name the fix instead of failing deep
   inside config parsing.
3. ``mmpretrain.models.multimodal`` fails to import with transformers >= 4.56 when ``pycocotools`` is
   installed (``TypeError: NoneType takes no arguments`` in its BLIP code). We refuse that environment with a
   message that names the package to remove.
4. CPU distributed runs (gloo; ``tools/dist_train.sh`` on a machine without CUDA, used by our tests).
   onedl-mmengine 0.10.12 calls ``torch.cuda.set_device(local_rank)`` unconditionally in
   ``_init_dist_pytorch``/``_init_dist_slurm`` ("Found no NVIDIA driver") and wraps the model in DDP with
   ``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules. Without CUDA we skip ``set_device`` there
   and pass ``device_ids=None`` for modules whose parameters are on the CPU. GPU runs are unchanged.
"""
import functools
import importlib.util
import logging
import os
import pickle

import torch


class UnsafeCheckpointError(RuntimeError):
    """Raised when a checkpoint can only be read by executing arbitrary pickled code."""


def safe_torch_load(file, map_location=None, weights_only=None):
    """``torch.load`` with ``weights_only=True`` always; never falls back to unpickling arbitrary objects.

    Args:
        file (str | file-like): Checkpoint to read.
        map_location: As in ``torch.load``.
        weights_only: Ignored (kept for MMEngine's call signature); loading is always weights-only.

    Raises:
        UnsafeCheckpointError: The file holds objects outside the allow-list (e.g. a malicious pickle).
        RuntimeError: The file is truncated or not a checkpoint.
    """
    from mmengine.runner.checkpoint import get_torch_safe_globals
    name = file if isinstance(file, (str, os.PathLike)) else getattr(file, 'name', '<buffer>')
    try:
        with torch.serialization.safe_globals(get_torch_safe_globals()):
            return torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(
            f'Refusing to load checkpoint {name!r}: it contains objects that can only be restored by running '
            f'pickled code ({str(e).splitlines()[0]}). mmmedfm loads checkpoints with weights_only=True only. '
            'If you trust the file, re-save its state_dict with plain tensors.') from None
    except (EOFError, RuntimeError) as e:
        raise RuntimeError(f'Cannot read checkpoint {name!r}: the file is truncated or not a PyTorch '
                           f'checkpoint ({e}).') from None


def _patch_mmengine_checkpoint_loading() -> None:
    from mmengine.runner import checkpoint
    checkpoint._safe_torch_load = safe_torch_load


def _patch_cpu_distributed() -> None:
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import MMDistributedDataParallel

    def without_cuda_set_device(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if torch.cuda.is_available():
                return fn(*args, **kwargs)
            set_device = torch.cuda.set_device
            torch.cuda.set_device = lambda device: None
            try:
                return fn(*args, **kwargs)
            finally:
                torch.cuda.set_device = set_device
        return wrapper

    for name in ('_init_dist_pytorch', '_init_dist_slurm'):
        setattr(dist_utils, name, without_cuda_set_device(getattr(dist_utils, name)))

    ddp_init = MMDistributedDataParallel.__init__

    @functools.wraps(ddp_init)
    def __init__(self, module, *args, **kwargs):
        if all(p.device.type == 'cpu' for p in module.parameters()):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        ddp_init(self, module, *args, **kwargs)

    MMDistributedDataParallel.__init__ = __init__


def _check_environment() -> None:
    if importlib.util.find_spec('pycocotools') is not None:
        raise ImportError('pycocotools is installed: with transformers >= 4.56 it breaks '
                          '`import mmpretrain.models` (BLIP code). Run `pip uninstall -y pycocotools`; '
                          'mmmedfm does not use it.')
    try:
        import mmpretrain  # noqa: F401
    except ModuleNotFoundError as e:
        if e.name == 'pkg_resources':
            raise ImportError('mmpretrain needs `pkg_resources`, removed in setuptools >= 82. Install the '
                              'pinned stack (`pip install -r requirements.txt`: onedl-mmpretrain) or '
                              '`pip install "setuptools<82"` for upstream mmpretrain 1.2.') from e
        raise


_APPLIED = False


def apply_stack_workarounds() -> None:
    """Apply the workarounds listed in this module's docstring (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    _check_environment()
    _patch_mmengine_checkpoint_loading()
    _patch_cpu_distributed()
    logging.getLogger('mmmedfm').debug('mmmedfm stack workarounds applied')
    _APPLIED = True
