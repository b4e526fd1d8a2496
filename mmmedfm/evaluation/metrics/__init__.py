from .balanced_accuracy import BalancedAccuracy

__all__ = ['BalancedAccuracy']
