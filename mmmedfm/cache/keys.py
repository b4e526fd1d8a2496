"""Cache keys: everything that changes the cached numbers, nothing that does not.

One image key (the frozen vision tower, its weights, the preprocessing and the file list) and one text key (the
text encoder, its weights and the texts) serve every embedding cache of the package: frozen features for the
black-box adapters, the unimodal caches of the Adaptor, and zero-shot class embeddings.
"""
from typing import Any, Iterable, Optional, Sequence, Tuple

from .fingerprint import stable_hash, weights_fingerprint

# Keys that change how inputs are batched, never the embeddings.
NON_SEMANTIC_KEYS = ('batch_size', )
_VERSION = 2


def _encoder_part(cfg: dict) -> dict:
    """The encoder config without non-semantic keys, plus the fingerprint of its ``pretrained`` weights."""
    cfg = {k: v for k, v in dict(cfg).items() if k not in NON_SEMANTIC_KEYS}
    weights = weights_fingerprint(cfg['pretrained']) if cfg.get('pretrained') else ''
    return dict(encoder=cfg, weights=weights)


def image_cache_key(vision: dict, preprocessor: dict, pipeline: list, files: Iterable[Tuple[str, int]],
                    patch_tokens: bool = False, dtype: str = 'float32') -> str:
    """Key of a folder of image embeddings.

    Args:
        vision (dict): Config of the frozen vision tower (``peft`` already dropped); its ``pretrained``
            weights are fingerprinted (:func:`weights_fingerprint`).
        preprocessor (dict): Data preprocessor config (normalisation).
        pipeline (list): Test-time transform configs.
        files: ``(image path, label)`` pairs; their order does not matter.
        patch_tokens (bool): Whether patch tokens are stored next to the pooled embedding.
        dtype (str): Storage dtype (``'float32'``/``'float16'``).

    Returns:
        str: 24 hex characters.
    """
    return stable_hash(dict(_encoder_part(vision), preprocessor=preprocessor, pipeline=pipeline,
                            files=sorted([str(f), int(y)] for f, y in files), patch_tokens=bool(patch_tokens),
                            dtype=str(dtype), v=_VERSION), length=24)


def decoded_image_key(head: list, files: Iterable[Tuple[str, int, int]], resize: Optional[dict] = None) -> str:
    """Key of a folder of decoded, resized images (uint8): the pipeline head that decodes and resizes them
    (transform configs, in order), the model's resize applied after it (``None``: none) and the
    ``(path, size, mtime_ns)`` of every image (order does not matter).

    Returns:
        str: 24 hex characters.
    """
    parts = dict(head=list(head), files=sorted([str(p), int(n), int(t)] for p, n, t in files), kind='decoded',
                 v=_VERSION)
    if resize:  # absent (not None) without a model resize: the keys of existing caches stay valid
        parts['resize'] = dict(resize)
    return stable_hash(parts, length=24)


def text_cache_key(text_encoder: dict, texts: Sequence[Any], **settings) -> str:
    """Key of a folder of text embeddings: encoder config (minus batching) + weights fingerprint + texts.

    Args:
        text_encoder (dict): Config of the frozen text encoder.
        texts: The encoded texts: captions, or one prompt list per class (nesting is part of the key).
        **settings: Anything else that changes the numbers (e.g. ``max_length``, ``kind='class'``).

    Returns:
        str: 24 hex characters.
    """
    texts = [list(t) if isinstance(t, (list, tuple)) else str(t) for t in texts]
    return stable_hash(dict(_encoder_part(text_encoder), texts=texts, settings=settings, v=_VERSION), length=24)
