from .class_balanced import ClassBalancedSampler, class_balanced_indices

__all__ = ['ClassBalancedSampler', 'class_balanced_indices']
