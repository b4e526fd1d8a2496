"""Cheap, stable fingerprints of model weights and of configs, used as disk-cache keys.

Hashing gigabytes of weights on every run would cost more than the encoding the cache saves, so local
weight files are fingerprinted by (name, size, mtime); a hub id by the commit of its cached snapshot.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Any, List

WEIGHT_EXTS = ('.safetensors', '.bin', '.pt', '.pth', '.ckpt')


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (dict keys sorted; tuples become lists)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:length]


def _file_entries(path: str, root: str) -> List[list]:
    st = os.stat(path)
    return [[osp.relpath(path, root), st.st_size, st.st_mtime_ns]]


def _hub_snapshot(repo_id: str) -> str:
    """Commit of the locally cached snapshot of ``repo_id`` ('' when it is not cached)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        return ''
    for filename in ('config.json', 'open_clip_config.json', 'pytorch_model.bin', 'model.safetensors'):
        hit = try_to_load_from_cache(repo_id, filename)
        if isinstance(hit, str):
            return osp.basename(osp.dirname(hit))
    return ''


def weights_fingerprint(name_or_path: str) -> str:
    """Fingerprint of the weights behind a hub id, a local directory or a local checkpoint file.

    Local: (relative name, size, mtime_ns) of every weight file (``*.safetensors``, ``*.bin``, ``*.pt``,
    ``*.pth``, ``*.ckpt``) plus JSON configs in the directory. Hub id (``vinid/plip``, ``hf-hub:org/name``):
    the cached snapshot commit. Anything else (an open_clip tag such as ``openai``) is taken as is.
    """
    name_or_path = str(name_or_path)
    if osp.isfile(name_or_path):
        return stable_hash(_file_entries(name_or_path, osp.dirname(name_or_path)))
    if osp.isdir(name_or_path):
        entries = []
        for dirpath, _, files in sorted(os.walk(name_or_path)):
            for f in sorted(files):
                if f.endswith(WEIGHT_EXTS + ('.json', )):
                    entries += _file_entries(osp.join(dirpath, f), name_or_path)
        return stable_hash(entries)
    repo = name_or_path[len('hf-hub:'):] if name_or_path.startswith('hf-hub:') else name_or_path
    snapshot = _hub_snapshot(repo) if repo.count('/') == 1 else ''
    return stable_hash([name_or_path, snapshot])
