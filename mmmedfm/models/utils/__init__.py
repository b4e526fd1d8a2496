from .data_preprocessor import VLMDataPreprocessor
from .tensor_augment import TensorAugment, sample_uniforms
from .hub import ModelNotAvailableError, load_hf, missing_model_message, read_json_config
from .zero_shot import build_class_prompts, build_zero_shot_weights

__all__ = ['VLMDataPreprocessor', 'TensorAugment', 'sample_uniforms', 'ModelNotAvailableError', 'load_hf', 'missing_model_message',
           'read_json_config', 'build_class_prompts', 'build_zero_shot_weights']
