from .calibrated_tta import CalibratedTTA, scale_probabilities
from .image_classifier import ImageClassifier
from .vlm_classifier import VLMClassifier

__all__ = ['CalibratedTTA', 'ImageClassifier', 'VLMClassifier', 'scale_probabilities']
