from .balanced_accuracy import BalancedAccuracy
from .clinical import ClinicalMetric
from .wsi import WSIMetric

__all__ = ['BalancedAccuracy', 'ClinicalMetric', 'WSIMetric']
