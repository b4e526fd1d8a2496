from .adaptor_vl import AdaptorVL
from .fusion import CoAttentionLayer
from .loss import info_nce_loss, same_group_mask

__all__ = ['AdaptorVL', 'CoAttentionLayer', 'info_nce_loss', 'same_group_mask']
