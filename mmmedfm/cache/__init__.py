"""Embedding caches: keys, the on-disk format, its reader and writer.

Below ``datasets/``, ``models/`` and ``apis/`` (it imports none of them): a dataset that reads a cache and the
API that writes it find the same folder from the same inputs.
"""
from .feature_set import FeatureSet
from .fingerprint import stable_hash, weights_fingerprint
from .keys import decoded_image_key, image_cache_key, text_cache_key
from .pairs import pair_cache_folders, source_items, text_folder, unimodal_settings, unique_captions
from .shards import INDEX, ShardedArrays, is_complete, write_shards

__all__ = ['FeatureSet', 'stable_hash', 'weights_fingerprint', 'image_cache_key', 'text_cache_key', 'decoded_image_key',
           'pair_cache_folders', 'source_items', 'text_folder', 'unimodal_settings', 'unique_captions', 'INDEX',
           'ShardedArrays', 'is_complete', 'write_shards']
