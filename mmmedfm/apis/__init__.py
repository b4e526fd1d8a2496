from .inference import class_names_of, infer_logits, infer_split, init_model, load_weights, predict, read_inputs

__all__ = ['class_names_of', 'infer_logits', 'infer_split', 'init_model', 'load_weights', 'predict', 'read_inputs']
