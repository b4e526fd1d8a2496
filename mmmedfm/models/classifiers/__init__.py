from .image_classifier import ImageClassifier
from .vlm_classifier import VLMClassifier

__all__ = ['ImageClassifier', 'VLMClassifier']
