from .base_tower import PretrainedTower
from .conch_vision import CONCHVision
from .hf_clip_text import HFCLIPText
from .hf_clip_vision import HFCLIPVision
from .hf_text_encoder import HFTextEncoder
from .hf_vision_backbone import HFVisionBackbone
from .open_clip_text import OpenCLIPText
from .open_clip_vision import OpenCLIPVision
from .timm_vit import TimmViT

__all__ = ['HFCLIPVision', 'HFCLIPText', 'OpenCLIPVision', 'OpenCLIPText', 'CONCHVision', 'HFVisionBackbone',
           'TimmViT', 'HFTextEncoder', 'PretrainedTower']
