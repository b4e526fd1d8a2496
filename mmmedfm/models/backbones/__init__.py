from .hf_clip_text import HFCLIPText
from .hf_clip_vision import HFCLIPVision

__all__ = ['HFCLIPVision', 'HFCLIPText']
