from .rotation import RandomRot90

__all__ = ['RandomRot90']
