from .balanced_accuracy import BalancedAccuracy
from .clinical import ClinicalMetric
from .retrieval import RetrievalRecall
from .wsi import WSIMetric

__all__ = ['BalancedAccuracy', 'ClinicalMetric', 'RetrievalRecall', 'WSIMetric']
