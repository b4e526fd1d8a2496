from .loading import ImageLoadError, LoadImageFromFile
from .rotation import RandomRot90

__all__ = ['ImageLoadError', 'LoadImageFromFile', 'RandomRot90']
