"""Resolve pretrained models from a hub id or a local directory, with one clear error when offline.

Hospital machines are often air-gapped, so a local directory is always accepted and ``HF_HUB_OFFLINE=1``
is respected (``huggingface_hub`` reads it). Every loader in mmmedfm goes through :func:`load_hf`, so a
missing model always produces the same actionable message.
"""
import contextlib
import contextvars
import json
import os
import os.path as osp
from typing import Callable, Dict, Optional

DEFAULT_KEY = 'model.foundation_model'
_WEIGHT_KEYS: contextvars.ContextVar = contextvars.ContextVar('mmmedfm_weight_keys', default={})


class ModelNotAvailableError(OSError):
    """A pretrained model is neither a local directory nor downloadable/cached."""


@contextlib.contextmanager
def weight_keys(keys: Dict[str, str]):
    """Within the block, a missing model ``id`` is reported with ``--cfg-options {keys[id]}=...``.

    Builders that know which config key set each weight path (``VLMClassifier``: ``model.foundation_model``
    or ``model.head.text_encoder.pretrained``; the adaptor tools: ``unimodal.vision.pretrained``) wrap the build,
    so every route names the key that fixes it.
    """
    token = _WEIGHT_KEYS.set({**_WEIGHT_KEYS.get(), **{k: v for k, v in keys.items() if k}})
    try:
        yield
    finally:
        _WEIGHT_KEYS.reset(token)


def key_for(name: str, config_key: Optional[str] = None) -> str:
    """The config key to name for weight ``name``: explicit, else the enclosing :func:`weight_keys`, else
    ``model.foundation_model``."""
    return config_key or _WEIGHT_KEYS.get().get(name) or DEFAULT_KEY


def missing_model_message(name: str, config_key: Optional[str] = None) -> str:
    config_key = key_for(name, config_key)
    local = osp.join('data', 'models', name.replace('hf-hub:', '').split('/')[-1])
    return (f'Pretrained model {name!r} is not available: it is not a local directory and could not be '
            f'loaded from the Hugging Face cache or hub (offline machine or no access). Download it on a '
            f'machine with internet, e.g. `huggingface-cli download {name.replace("hf-hub:", "")} '
            f'--local-dir {local}`, copy the folder here and point the config at it: '
            f'`--cfg-options {config_key}={local}`. `python tools/misc/check_models.py` lists what is missing.')


def is_local(name_or_path: str) -> bool:
    return osp.isdir(name_or_path) or osp.isfile(name_or_path)


def load_hf(loader: Callable, name_or_path: str, config_key: Optional[str] = None, **kwargs):
    """Call a ``from_pretrained``-style ``loader`` and turn a missing model into :class:`ModelNotAvailableError`.

    Args:
        loader: e.g. ``transformers.CLIPModel.from_pretrained``.
        name_or_path (str): Hub id (``vinid/plip``) or local directory.
        config_key (str, optional): The config key to name in the error message (default: :func:`key_for`).
    """
    if not is_local(name_or_path) and (name_or_path.startswith(('.', '/', '~')) or os.sep + os.sep in name_or_path):
        raise ModelNotAvailableError(f'Local model path {name_or_path!r} does not exist. '
                                     + missing_model_message(name_or_path, config_key))
    from .load_memo import memoised_load
    owner = getattr(loader, '__self__', None)  # memoise bound ``from_pretrained`` methods only
    key = None if owner is None else ('hf', getattr(owner, '__qualname__', repr(owner)), loader.__name__,
                                      name_or_path, repr(sorted(kwargs.items())))
    try:
        return memoised_load(key, lambda: loader(name_or_path, **kwargs))
    except (OSError, ValueError) as e:
        if is_local(name_or_path) and isinstance(e, OSError):
            raise ModelNotAvailableError(
                f'Local model folder {name_or_path!r} is incomplete: {str(e).splitlines()[0]} Copy the whole '
                f'downloaded folder (config, weights, tokenizer/preprocessor files) and set '
                f'`--cfg-options {key_for(name_or_path, config_key)}=...` to it.') from None
        if is_local(name_or_path):
            raise
        raise ModelNotAvailableError(missing_model_message(name_or_path, config_key) + f' [{e.__class__.__name__}: '
                                     f'{str(e).splitlines()[0] if str(e) else ""}]') from None


def read_json_config(name_or_path: str, filename: str, config_key: Optional[str] = None) -> Optional[dict]:
    """Read ``filename`` (e.g. ``preprocessor_config.json``) from a local model dir or the HF cache/hub.

    Returns ``None`` when the model has no such file.
    """
    if osp.isdir(name_or_path):
        path = osp.join(name_or_path, filename)
        if not osp.isfile(path):
            return None
    else:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError
        try:
            path = load_hf(lambda n: hf_hub_download(n, filename), name_or_path, config_key)
        except EntryNotFoundError:
            return None
    with open(path) as f:
        return json.load(f)
