from .balanced_accuracy import BalancedAccuracy
from .clinical import ClinicalMetric
from .image_text_recall import ImageTextRecall
from .wsi import WSIMetric

__all__ = ['BalancedAccuracy', 'ClinicalMetric', 'ImageTextRecall', 'WSIMetric']
