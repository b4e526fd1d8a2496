from .features import FeatureSet, extract_features, zero_shot_classifier
from .inference import class_names_of, infer_logits, infer_split, init_model, load_weights, predict, read_inputs

__all__ = ['FeatureSet', 'extract_features', 'zero_shot_classifier', 'class_names_of', 'infer_logits',
           'infer_split', 'init_model', 'load_weights', 'predict', 'read_inputs']
