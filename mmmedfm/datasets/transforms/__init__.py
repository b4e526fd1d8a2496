from .loading import ImageLoadError, LoadImageFromFile
from .rot90 import Rot90
from .rotation import RandomRot90

__all__ = ['ImageLoadError', 'LoadImageFromFile', 'RandomRot90', 'Rot90']
