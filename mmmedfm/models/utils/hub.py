"""Resolve pretrained models from a hub id or a local directory, with one clear error when offline.

Hospital machines are often air-gapped, so a local directory is always accepted and ``HF_HUB_OFFLINE=1``
is respected (``huggingface_hub`` reads it). Every loader in mmmedfm goes through :func:`load_hf`, so a
missing model always produces the same actionable message.
"""
import json
import os
import os.path as osp
from typing import Callable, Optional


class ModelNotAvailableError(OSError):
    """A pretrained model is neither a local directory nor downloadable/cached."""


def missing_model_message(name: str, config_key: str = 'model.foundation_model') -> str:
    local = osp.join('data', 'models', name.replace('hf-hub:', '').split('/')[-1])
    return (f'Pretrained model {name!r} is not available: it is not a local directory and could not be '
            f'loaded from the Hugging Face cache or hub (offline machine or no access). Download it on a '
            f'machine with internet, e.g. `huggingface-cli download {name.replace("hf-hub:", "")} '
            f'--local-dir {local}`, copy the folder here and point the config at it: '
            f'`--cfg-options {config_key}={local}`. `python tools/misc/check_models.py` lists what is missing.')


def is_local(name_or_path: str) -> bool:
    return osp.isdir(name_or_path) or osp.isfile(name_or_path)


def load_hf(loader: Callable, name_or_path: str, config_key: str = 'model.foundation_model', **kwargs):
    """Call a ``from_pretrained``-style ``loader`` and turn a missing model into :class:`ModelNotAvailableError`.

    Args:
        loader: e.g. ``transformers.CLIPModel.from_pretrained``.
        name_or_path (str): Hub id (``vinid/plip``) or local directory.
        config_key (str): The config key to name in the error message.
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
        if is_local(name_or_path):
            raise
        raise ModelNotAvailableError(missing_model_message(name_or_path, config_key) + f' [{e.__class__.__name__}: '
                                     f'{str(e).splitlines()[0] if str(e) else ""}]') from None


def read_json_config(name_or_path: str, filename: str, config_key: str = 'model.foundation_model') -> Optional[dict]:
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
