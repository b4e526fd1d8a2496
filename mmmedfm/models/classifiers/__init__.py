from .vlm_classifier import VLMClassifier

__all__ = ['VLMClassifier']
