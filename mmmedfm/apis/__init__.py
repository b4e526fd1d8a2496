from .features import FeatureSet, extract_features, zero_shot_classifier
from .inference import class_names_of, infer_logits, infer_split, init_model, load_weights, predict, read_inputs
from .slide import SlideError, open_slide, read_tile, slide_mpp, thumbnail, tile_grid, tissue_mask
from .wsi import SlidePrediction, heatmap, predict_slide
from .wsi_io import list_slides, predict_slides, write_slide_outputs, write_summary

__all__ = ['FeatureSet', 'extract_features', 'zero_shot_classifier', 'class_names_of', 'infer_logits',
           'infer_split', 'init_model', 'load_weights', 'predict', 'read_inputs', 'SlideError', 'open_slide',
           'read_tile', 'slide_mpp', 'thumbnail', 'tile_grid', 'tissue_mask', 'SlidePrediction', 'heatmap',
           'predict_slide', 'list_slides', 'predict_slides', 'write_slide_outputs', 'write_summary']
