from .data_preprocessor import VLMDataPreprocessor
from .hub import ModelNotAvailableError, load_hf, missing_model_message, read_json_config
from .zero_shot import build_class_prompts, build_zero_shot_weights

__all__ = ['VLMDataPreprocessor', 'ModelNotAvailableError', 'load_hf', 'missing_model_message',
           'read_json_config', 'build_class_prompts', 'build_zero_shot_weights']
