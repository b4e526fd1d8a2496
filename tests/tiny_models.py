"""Re-export of :mod:`mmmedfm.utils.tiny_models` (the builders moved into the package for the demo assets)."""
from mmmedfm.utils.tiny_models import (IMAGENET_MEAN, IMAGENET_STD, TIMM_KWARGS, conch_parts,  # noqa: F401
                                       make_tiny_bert, make_tiny_conch, make_tiny_dinov2, make_tiny_open_clip,
                                       make_tiny_timm)
