from .calibration import apply_temperature, fit_temperature, logits_from_probs, read_temperature
from .functional import (aggregate_by_group, auroc_macro, average_probabilities, classification_metrics,
                         confusion, ece, per_class_precision, per_class_recall, reliability_bins)
from .retrieval import recall_at_k, retrieval_metrics
from .metrics import *  # noqa: F401,F403
