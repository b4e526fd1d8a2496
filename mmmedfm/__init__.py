"""mmmedfm: few-shot adaptation of medical vision-language foundation models on MMPretrain."""
from . import utils  # noqa: F401  (safe checkpoint loading, see mmmedfm.utils.compat)
from .version import __version__

__all__ = ['__version__']
