"""Resolve and load open_clip models (built-in name + tag, ``hf-hub:`` id, local dir or checkpoint file).

open_clip raises ``RuntimeError`` for a model it cannot fetch; this module turns that into the same
:class:`ModelNotAvailableError` as :func:`load_hf`, naming the id and how to supply a local copy.
"""
import os.path as osp
from typing import Optional, Sequence, Tuple

from .hub import ModelNotAvailableError, is_local, key_for, missing_model_message
from .open_clip_companion import companion_text_cfg, companion_tokenizer

HF_HUB = 'hf-hub:'


def _tag_message(model_name: str, tag: str, config_key: Optional[str]) -> str:
    config_key = key_for(tag, config_key)
    return (f'open_clip weights {model_name!r} / pretrained={tag!r} are not in the local cache and cannot be '
            f'downloaded (offline machine or no access). On a machine with internet run `python -c "import '
            f"open_clip; open_clip.create_model('{model_name}', pretrained='{tag}')\"` and copy "
            f'~/.cache/huggingface to this machine, or save the checkpoint file and point the config at it: '
            f'`--cfg-options {config_key}=/path/to/checkpoint.bin` (keeping model_name={model_name!r}). '
            '`python tools/misc/check_models.py` lists what is missing.')


def _has_weights(folder: str) -> bool:
    import glob
    return any(glob.glob(osp.join(folder, p)) for p in ('*.bin', '*.safetensors', '*.pt', '*.pth'))


def resolve_open_clip(pretrained: str, model_name: Optional[str] = None,
                      config_key: Optional[str] = None) -> Tuple[str, Optional[str]]:
    """Map our ``(pretrained, model_name)`` to open_clip's ``(model_name, pretrained)`` arguments.

    Args:
        pretrained (str): ``hf-hub:org/name``; a local directory in the hf-hub layout
            (``open_clip_config.json`` + ``open_clip_pytorch_model.bin``/``.safetensors``); a local checkpoint
            file; or an open_clip pretrained tag (``openai``).
        model_name (str, optional): open_clip architecture (``ViT-B-16``); required with a tag or a file, and
            with a directory that has no ``open_clip_config.json``.

    Raises:
        ModelNotAvailableError: A path that does not exist.
        ValueError: A tag/file without ``model_name``.
    """
    if pretrained.startswith(HF_HUB):
        return pretrained, None
    if osp.isdir(pretrained):
        if osp.isfile(osp.join(pretrained, 'open_clip_config.json')):
            return 'local-dir:' + pretrained, None
        if model_name is None:
            raise ValueError(f'{pretrained!r} has no open_clip_config.json; set `model_name` (e.g. ViT-B-16) '
                             'to load a checkpoint file from it.')
        from open_clip.factory import _find_checkpoint_in_dir
        from pathlib import Path
        ckpt = _find_checkpoint_in_dir(Path(pretrained))
        if ckpt is None:
            raise ModelNotAvailableError(f'No checkpoint (*.safetensors, *.bin, *.pth) in {pretrained!r}. '
                                         + missing_model_message(pretrained, config_key))
        return model_name, str(ckpt)
    if not is_local(pretrained) and (pretrained.startswith(('.', '/', '~')) or osp.sep in pretrained):
        raise ModelNotAvailableError(f'Local model path {pretrained!r} does not exist. '
                                     + missing_model_message(pretrained, config_key))
    if model_name is None:
        raise ValueError(f'open_clip pretrained={pretrained!r} is a tag or checkpoint file: set `model_name` '
                         '(e.g. ViT-B-16) too.')
    return model_name, pretrained


def tag_wants_quick_gelu(model_name: str, pretrained: Optional[str]) -> bool:
    """Whether open_clip's pretrained tag (``openai`` for ``ViT-B-16``) was trained with QuickGELU; False for
    paths and unknown tags. open_clip itself only warns when a built-in config without QuickGELU loads them."""
    import open_clip
    if not pretrained or is_local(pretrained) or model_name.startswith(('local-dir:', HF_HUB)):
        return False
    return bool(open_clip.get_pretrained_cfg(model_name, pretrained).get('quick_gelu', False))


def load_open_clip(pretrained: str, model_name: Optional[str] = None,
                   config_key: Optional[str] = None, quick_gelu: Optional[bool] = None, **kwargs):
    """Create an open_clip model with its pretrained weights (eval mode, fp32, CPU).

    Args:
        quick_gelu (bool, optional): Build the towers with QuickGELU (OpenAI CLIP weights need it, on every
            route: tag, checkpoint file, directory). None: only when the pretrained tag says so
            (:func:`tag_wants_quick_gelu`); a checkpoint file cannot tell, so OpenAI bases set True.

    Raises:
        ModelNotAvailableError: Weights neither local nor cached and not downloadable.
    """
    import open_clip
    oc_name, oc_pretrained = resolve_open_clip(pretrained, model_name, config_key)
    if quick_gelu is None:
        quick_gelu = tag_wants_quick_gelu(oc_name, oc_pretrained)
    if quick_gelu:
        kwargs['force_quick_gelu'] = True
    text_cfg, _ = companion_text_cfg(oc_name, pretrained)
    if text_cfg is not None:
        kwargs.setdefault('text_cfg', text_cfg)
    try:
        from .load_memo import memoised_load
        model = memoised_load(('open_clip', oc_name, oc_pretrained, repr(sorted(kwargs.items()))),
                              lambda: open_clip.create_model(oc_name, pretrained=oc_pretrained,
                                                             require_pretrained=True, **kwargs))
    except (RuntimeError, OSError) as e:
        if oc_name.startswith('local-dir:') and not _has_weights(oc_name[len('local-dir:'):]):
            raise ModelNotAvailableError(
                f'Local model folder {pretrained!r} is incomplete: no open_clip_pytorch_model.bin / '
                f'open_clip_model.safetensors beside its open_clip_config.json. Copy the whole downloaded folder '
                f'and set `--cfg-options {key_for(pretrained, config_key)}=...` to it.') from None
        if oc_name.startswith('local-dir:') or (oc_pretrained and is_local(oc_pretrained)):
            raise
        msg = (missing_model_message(pretrained, config_key) if pretrained.startswith(HF_HUB)
               else _tag_message(oc_name, pretrained, config_key))
        raise ModelNotAvailableError(msg + f' [{e.__class__.__name__}: {str(e).splitlines()[0]}]') from None
    return model.eval()


def open_clip_tokenizer(pretrained: str, model_name: Optional[str] = None,
                        config_key: Optional[str] = None):
    """open_clip's tokenizer for the model (``local-dir:`` reads HF tokenizer files from the directory)."""
    import open_clip
    oc_name, _ = resolve_open_clip(pretrained, model_name, config_key)
    tokenizer = companion_tokenizer(oc_name, companion_text_cfg(oc_name, pretrained)[1])
    if tokenizer is not None:
        return tokenizer
    try:
        return open_clip.get_tokenizer(oc_name)
    except (RuntimeError, OSError) as e:
        if oc_name.startswith('local-dir:'):
            raise
        raise ModelNotAvailableError(missing_model_message(pretrained, config_key)
                                     + f' [{e.__class__.__name__}: {str(e).splitlines()[0]}]') from None


def open_clip_norm(pretrained: str, model_name: Optional[str] = None) -> Tuple[Sequence[float], Sequence[float]]:
    """Mean/std (0-1 units) of a built-in open_clip model + tag: the tag's values, else open_clip's defaults.

    Local/hub directories carry their own ``open_clip_config.json`` (read by ``image_norm_from_model``).
    """
    import open_clip
    from open_clip.transform import PreprocessCfg
    cfg = PreprocessCfg()
    mean, std = cfg.mean, cfg.std
    if model_name is not None:
        model_cfg = open_clip.get_model_config(model_name) or {}
        pre = model_cfg.get('preprocess_cfg', {})
        mean, std = pre.get('mean', mean), pre.get('std', std)
        tag_cfg = open_clip.get_pretrained_cfg(model_name, pretrained) if not is_local(pretrained) else {}
        mean, std = tag_cfg.get('mean', mean), tag_cfg.get('std', std)
    return list(mean), list(std)
