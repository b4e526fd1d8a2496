from .few_shot import sample_few_shot
from .sicapv2 import SICAPv2Dataset
from .transforms import *  # noqa: F401,F403

__all__ = ['SICAPv2Dataset', 'sample_few_shot']
