"""Import the stack without its known import-time noise (nothing is patched; filters end with the block)."""
import contextlib
import io
import warnings

# Lines the pinned stack prints on every import that say nothing to our users:
# mmpretrain.datasets prints this (with print()) when the optional OneDL package is absent.
_NOISE_LINES = ('Could not import OneDL', )
# mmcv-lite has no compiled ops; mmpretrain's models import mmcv's transformer bricks, which warn about it.
_NOISE_WARNINGS = (r'Fail to import ``MultiScaleDeformableAttention``', )


@contextlib.contextmanager
def quiet_stack_imports():
    """Drop the stack's known import-time messages (``_NOISE_LINES``, ``_NOISE_WARNINGS``); print the rest."""
    out = io.StringIO()
    with warnings.catch_warnings():
        for message in _NOISE_WARNINGS:
            warnings.filterwarnings('ignore', message=message)
        with contextlib.redirect_stdout(out):
            yield
    for line in out.getvalue().splitlines():
        if line.strip() not in _NOISE_LINES:
            print(line)
