from mmmedfm.utils.quiet import quiet_stack_imports

with quiet_stack_imports():
    import mmpretrain.datasets  # noqa: F401  (imported first, without its known import-time noise)
from .cached_pairs import CachedPairDataset
from .decoded_cache import DecodedImageCache, split_pipeline
from .decoded_dataset import DecodedCacheDataset, DecodedCacheMixin
from .few_shot import FewShotMixin, sample_few_shot, select_wsis, split_wsis_per_class
from .patch_csv import PatchCSVDataset
from .patchgastric import PatchGastricDataset
from .samplers import *  # noqa: F401,F403
from .sicapv2 import SICAPv2Dataset
from .transforms import *  # noqa: F401,F403
from .wsi_folder import WSIFolderDataset

__all__ = ['CachedPairDataset', 'DecodedImageCache', 'DecodedCacheDataset', 'DecodedCacheMixin', 'split_pipeline',
           'SICAPv2Dataset', 'PatchGastricDataset', 'PatchCSVDataset', 'WSIFolderDataset', 'FewShotMixin',
           'sample_few_shot', 'select_wsis', 'split_wsis_per_class']
