from .rot90 import Rot90
from .rotation import RandomRot90

__all__ = ['RandomRot90', 'Rot90']
