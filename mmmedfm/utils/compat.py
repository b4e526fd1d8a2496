"""The one change ``import mmmedfm`` makes to another library: safe checkpoint loading in MMEngine.

torch >= 2.6 defaults to ``weights_only=True``; onedl-mmengine 0.10.12 tries that with an allow-list but
*silently falls back to full unpickling* when it fails, which would execute code from a malicious checkpoint.
:func:`apply_safe_loading` replaces ``mmengine.runner.checkpoint._safe_torch_load`` (and nothing else) with
:func:`safe_torch_load`, which always uses ``weights_only=True`` (plus MMEngine's own allow-list, which covers
resume state such as ``HistoryBuffer``) and raises a clear error naming the file otherwise. Drop it once MMEngine
stops falling back.

What a tool needs from its environment (CPU distributed runs) the tool sets up itself
(:func:`mmmedfm.utils.cli.setup_cpu_distributed`).
"""
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


def apply_safe_loading() -> None:
    """Route MMEngine's checkpoint reading (``load_checkpoint``, resume) through :func:`safe_torch_load`."""
    from mmengine.runner import checkpoint
    checkpoint._safe_torch_load = safe_torch_load
