"""The Hugging Face text model an open_clip config names (BiomedCLIP), resolved from local folders first.

BiomedCLIP's ``open_clip_config.json`` builds its text tower from an HF BERT named by ``text_cfg.hf_model_name``
(``microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract``): open_clip fetches that model's ``config.json`` from
the hub even when the CLIP checkpoint is local, so an air-gapped copy of the BiomedCLIP folder alone fails with a
raw transformers ``OSError``. Here the companion is looked up, in order, as

1. ``hf_model_name`` itself when it is a folder (absolute, or relative to the model folder);
2. a folder named like the id's last part inside the model folder or beside it
   (``data/models/BiomedCLIP`` + ``data/models/BiomedNLP-BiomedBERT-base-uncased-abstract``);
3. the Hugging Face cache / hub (``HF_HUB_OFFLINE=1`` respected);

and a miss is one :class:`ModelNotAvailableError` naming the companion id and the folder to create.
"""
import json
import os.path as osp
from typing import Optional, Tuple

from .hub import ModelNotAvailableError, key_for, read_json_config

LOCAL_DIR = 'local-dir:'
TOKENIZER_FILES = ('tokenizer.json', 'tokenizer_config.json', 'vocab.txt')


def open_clip_json(oc_name: str) -> Optional[dict]:
    """``open_clip_config.json`` of a ``local-dir:`` / ``hf-hub:`` model (None for built-in names)."""
    if oc_name.startswith(LOCAL_DIR):
        path = osp.join(oc_name[len(LOCAL_DIR):], 'open_clip_config.json')
        if not osp.isfile(path):
            return None
        with open(path) as f:
            return json.load(f)
    if oc_name.startswith('hf-hub:'):
        return read_json_config(oc_name[len('hf-hub:'):], 'open_clip_config.json')
    return None


def candidate_dirs(folder: Optional[str], hf_name: str) -> list:
    """Folders where the companion ``hf_name`` may live, in search order."""
    base = hf_name.rstrip('/').split('/')[-1]
    out = [hf_name]
    if folder:
        out += [osp.join(folder, hf_name), osp.join(folder, base), osp.join(osp.dirname(osp.abspath(folder)), base)]
    return out


def find_companion(folder: Optional[str], hf_name: str) -> Optional[str]:
    """The first candidate folder holding a ``config.json``, else None."""
    return next((d for d in candidate_dirs(folder, hf_name) if osp.isfile(osp.join(d, 'config.json'))), None)


def companion_message(pretrained: str, hf_name: str, folder: Optional[str]) -> str:
    beside = candidate_dirs(folder, hf_name)[-1] if folder else osp.join('data', 'models', hf_name.split('/')[-1])
    return (f'open_clip model {pretrained!r} builds its text tower from the Hugging Face model {hf_name!r} '
            '(`text_cfg.hf_model_name` in its open_clip_config.json), which is not a local folder and not in '
            f'the Hugging Face cache (offline machine or no access). On a machine with internet run '
            f'`huggingface-cli download {hf_name} --local-dir {beside}` and copy that folder here: beside the '
            'model folder it is found automatically (or write its path into `hf_model_name`). The model folder '
            f'itself is set with `--cfg-options {key_for(pretrained)}=...`. '
            '`python tools/misc/check_models.py --config CONFIG` checks both.')


def companion_text_cfg(oc_name: str, pretrained: str) -> Tuple[Optional[dict], Optional[str]]:
    """``(text_cfg override for open_clip.create_model, local companion folder)`` for ``oc_name``.

    ``(None, None)`` when the model has no HF text tower or the companion is only available from the HF
    cache/hub (open_clip then loads it as usual).

    Raises:
        ModelNotAvailableError: The companion is neither local nor in the cache/hub.
    """
    cfg = open_clip_json(oc_name)
    text_cfg = ((cfg or {}).get('model_cfg') or {}).get('text_cfg') or {}
    hf_name = text_cfg.get('hf_model_name')
    if not hf_name:
        return None, None
    folder = oc_name[len(LOCAL_DIR):] if oc_name.startswith(LOCAL_DIR) else None
    local = find_companion(folder, hf_name)
    if local is not None:
        # The CLIP checkpoint holds the text tower's weights: only the companion's config is needed.
        return dict(text_cfg, hf_model_name=local, hf_model_pretrained=False), local
    from transformers import AutoConfig
    try:
        AutoConfig.from_pretrained(hf_name)
    except (OSError, ValueError):
        raise ModelNotAvailableError(companion_message(pretrained, hf_name, folder)) from None
    return None, None


def companion_tokenizer(oc_name: str, local: Optional[str]):
    """An open_clip ``HFTokenizer`` reading the companion folder when the model folder has no tokenizer files
    (open_clip reads them from the model folder), else None."""
    folder = oc_name[len(LOCAL_DIR):] if oc_name.startswith(LOCAL_DIR) else None
    if local is None or folder is None or any(osp.isfile(osp.join(folder, f)) for f in TOKENIZER_FILES):
        return None
    from open_clip.tokenizer import HFTokenizer
    text_cfg = open_clip_json(oc_name)['model_cfg']['text_cfg']
    return HFTokenizer(local, context_length=text_cfg.get('context_length', 77))
