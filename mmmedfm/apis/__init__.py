from .features import FeatureSet, extract_features, zero_shot_classifier

__all__ = ['FeatureSet', 'extract_features', 'zero_shot_classifier']
