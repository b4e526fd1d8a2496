"""mmmedfm: few-shot adaptation of medical vision-language foundation models on MMPretrain."""
from . import utils  # noqa: F401  (applies the stack workarounds before any OpenMMLab import)
from .version import __version__

__all__ = ['__version__']
