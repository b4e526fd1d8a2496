"""Black-box adapters on cached, frozen, L2-normalised image features (common ``fit``/``predict_proba`` API)."""
from .base import BaseAdapter, as_xy, holdout_split, kfold_splits, train_epochs
from .clap import CLAP, clap_multipliers, clap_penalty
from .clip_adapter import CLIPAdapter
from .coop import CoOp
from .linear_probe import LinearProbe, fit_logistic_regression
from .lp_plus_plus import LPPlusPlus
from .tip_adapter import TipAdapter, tip_logits
from .tip_adapter_f import TipAdapterF
from .zero_shot import ZeroShotAdapter
from .zs_linear_probe import ZSLinearProbe

__all__ = ['BaseAdapter', 'as_xy', 'holdout_split', 'kfold_splits', 'train_epochs', 'CLAP', 'clap_multipliers',
           'clap_penalty',
           'CLIPAdapter', 'CoOp', 'LinearProbe', 'fit_logistic_regression', 'LPPlusPlus', 'TipAdapter',
           'tip_logits', 'TipAdapterF', 'ZeroShotAdapter', 'ZSLinearProbe']
