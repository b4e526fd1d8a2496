"""Doctor: can every pretrained weight be loaded here (offline), and which key points at a local copy?

    python tools/misc/check_models.py --config configs/peft/lora-zs_plip_16shot-20e_sicapv2.py [--cfg-options KEY=VALUE ...]
    python tools/misc/check_models.py                       # every model in the manifest (files only)

With ``--config``, each pretrained part of the config (image tower, text tower, normalisation, the adaptor's
``unimodal`` encoders, BiomedCLIP's companion BERT) is resolved and built exactly as training would build it
(no forward pass), under the same ``--cfg-options``; each line names the config key that sets that part.
Status: ``ok`` (built; from a local path or the HF/open_clip cache), ``missing`` (not local, not cached, not
downloadable: the hint says which folder to create and which key to set), ``unloadable`` (present but the build
fails, e.g. a folder with only ``config.json``). Exit code 1 when any part is missing or unloadable.

Without ``--config``, the manifest's models are checked on disk only: ``local`` (every file the model needs is in
its folder), ``cache`` (HF / open_clip cache), ``incomplete`` or ``missing``; exit code 1 unless all are available.
"""
import argparse
import glob
import hashlib
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmedfm.models.manifest import KNOWN_MODELS, find_model  # noqa: E402
from mmmedfm.utils.cli import CfgOptionsAction  # noqa: E402

WEIGHT_FILES = ('*.safetensors', '*.bin', '*.pth', '*.pt')


def _files_present(directory: str, patterns) -> bool:
    return all(any(glob.glob(osp.join(directory, p)) for p in alt.split('|')) for alt in patterns)


def _in_hf_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache
    for name in ('config.json', 'open_clip_config.json', 'pytorch_model.bin', 'model.safetensors',
                 'open_clip_pytorch_model.bin', 'open_clip_model.safetensors'):
        if isinstance(try_to_load_from_cache(repo_id, name), str):
            return True
    return False


def _open_clip_tag_cached(model_name: str, tag: str) -> bool:
    """open_clip tags download from the HF hub (``hf_hub`` in the tag's config): look in the HF cache."""
    import open_clip
    hub = (open_clip.get_pretrained_cfg(model_name, tag) or {}).get('hf_hub', '').rstrip('/')
    return bool(hub) and _in_hf_cache(hub)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _hint(model_id: str, model_name, local: str, key: str) -> str:
    repo = model_id.replace('hf-hub:', '')
    if model_name:
        return (f"on a machine with internet: python -c \"import open_clip; open_clip.create_model('{model_name}', "
                f"pretrained='{model_id}')\" and copy ~/.cache/huggingface here, or put the checkpoint file in "
                f'{local}/ and set --cfg-options {key}={local}/<file> (keep model_name={model_name})')
    return (f'on a machine with internet: huggingface-cli download {repo} --local-dir {local} ; copy {local}/ '
            f'here and run with --cfg-options {key}={local}')


def check(model_id: str, model_name: str = None, verify: bool = False, key: str = 'model.foundation_model') -> dict:
    """On-disk status of one model id/path: dict(id, status, where, hint, licence).

    A directory is ``local`` only if it holds every file the model needs (the manifest's list, else a weight
    file); otherwise ``incomplete``.
    """
    entry = find_model(model_id if model_name is None else f'{model_name}/{model_id}') or {}
    licence = entry.get('licence', 'unknown (not in the manifest)')
    local = entry.get('local_dir') or osp.join('data', 'models', model_id.replace('hf-hub:', '').split('/')[-1])
    for path in (model_id, entry.get('local_dir')):
        if not path or not osp.exists(path):
            continue
        needs = entry.get('files') or ['|'.join(WEIGHT_FILES)]
        if osp.isdir(path) and not _files_present(path, needs):
            return dict(id=model_id, status='incomplete', where=osp.abspath(path), licence=licence,
                        hint=f'the folder lacks some of {needs}; ' + _hint(model_id, model_name, path, key))
        res = dict(id=model_id, status='local', where=osp.abspath(path), licence=licence,
                   hint='' if path == model_id else f'use it with --cfg-options {key}={path}')
        if verify and entry.get('sha256') and osp.isfile(path):
            res['sha256_ok'] = sha256_file(path) == entry['sha256']
        return res
    repo = model_id.replace('hf-hub:', '')
    cached = (_open_clip_tag_cached(model_name, model_id) if model_name else
              repo.count('/') == 1 and _in_hf_cache(repo))
    if cached:
        return dict(id=model_id, status='cache', where='Hugging Face cache', hint='', licence=licence)
    return dict(id=model_id, status='missing', where=local, hint=_hint(model_id, model_name, local, key),
                licence=licence)


def config_parts(cfg) -> list:
    """``[dict(part, key, cfg)]``: every pretrained part the config's build loads, with the key that sets it."""
    from mmmedfm.models.classifiers.vlm_classifier import fill_foundation_model, part_weight_keys
    parts = []
    model = cfg.get('model')
    if model is not None and model.get('backbone') is not None:
        model = model.to_dict()
        keys = part_weight_keys(model)
        filled = fill_foundation_model(model)
        build = dict(backbone=filled.get('backbone'), text_encoder=(filled.get('head') or {}).get('text_encoder'),
                     data_preprocessor=filled.get('data_preprocessor'))
        for name, (key, _) in keys.items():
            part = {k: v for k, v in build[name].items() if k != 'peft'}
            parts.append(dict(part=f'model.{name}', key=key, cfg=part))
    if cfg.get('unimodal') is not None:
        from mmmedfm.cache import unimodal_settings
        u = unimodal_settings(cfg)
        for name in ('vision', 'text'):
            parts.append(dict(part=f'unimodal.{name}', key=f'unimodal.{name}.pretrained',
                              cfg={k: v for k, v in u[name].items() if k != 'peft'}))
        pre = u['data_preprocessor']
        if pre.get('pretrained') is not None:
            key = ('unimodal.vision.pretrained' if pre['pretrained'] == u['vision'].get('pretrained')
                   else 'unimodal.data_preprocessor.pretrained')
            parts.append(dict(part='unimodal.data_preprocessor', key=key, cfg=pre))
    return parts


def build_part(part: dict) -> dict:
    """Build one part as training would; ``status`` ok / missing / unloadable with the error."""
    from mmmedfm.models.utils.hub import ModelNotAvailableError, weight_keys
    from mmmedfm.registry import MODELS
    pretrained = part['cfg'].get('pretrained')
    res = dict(part=part['part'], key=part['key'], id=pretrained, model_name=part['cfg'].get('model_name'))
    try:
        with weight_keys({pretrained: part['key']}):
            MODELS.build(dict(part['cfg']))
    except ModelNotAvailableError as e:
        return dict(res, status='missing', error=str(e))
    except Exception as e:  # noqa: BLE001 -- any failure to build is what the doctor reports
        return dict(res, status='unloadable', error=f'{e.__class__.__name__}: {str(e).splitlines()[0][:400]}')
    where = osp.abspath(pretrained) if pretrained and osp.exists(pretrained) else 'Hugging Face / open_clip cache'
    return dict(res, status='ok', where=where)


def check_config(path: str, cfg_options=None) -> list:
    from mmmedfm.utils import register_all_modules
    from mmmedfm.utils.cli import read_config
    register_all_modules()
    return [build_part(p) for p in config_parts(read_config(path, cfg_options))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', help='check (build) every pretrained part this config needs')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, help='override config settings')
    parser.add_argument('--verify', action='store_true', help='check sha256 of local files where known')
    args = parser.parse_args(argv)
    if args.config:
        results = check_config(args.config, args.cfg_options)
        for r in results:
            label = f"{r['model_name']} / {r['id']}" if r['model_name'] else r['id']
            print(f"[{r['status']:>10}] {r['part']:<26} {label}")
            print(f"             set with: --cfg-options {r['key']}=...")
            print(f"             {r.get('where') or r['error']}")
        bad = [r for r in results if r['status'] != 'ok']
    else:
        results = []
        for e in KNOWN_MODELS:
            name, _, tag = e['id'].rpartition('/') if e['id'] == 'ViT-B-16/openai' else ('', '', '')
            pid, name = (tag, name) if tag else (e['id'], None)
            results.append(dict(check(pid, name, args.verify), model_name=name))
            if e.get('companion'):
                res = dict(check(e['companion']), model_name=None, companion_of=e['id'])
                if res['status'] != 'local' and res['hint']:
                    res['hint'] = (f"huggingface-cli download {e['companion']} --local-dir {res['where']} on a "
                                   f"machine with internet; found there automatically (beside {e['local_dir']})")
                results.append(res)
        for r in results:
            label = f"{r['model_name']} / {r['id']}" if r['model_name'] else r['id']
            extra = f" (text tower of {r['companion_of']})" if r.get('companion_of') else ''
            print(f"[{r['status']:>10}] {label}{extra}  ({r['licence']})")
            print(f"             {r['where']}" + (f"\n             -> {r['hint']}" if r['hint'] else ''))
        bad = [r for r in results if r['status'] not in ('local', 'cache')]
    print(f'{len(results) - len(bad)}/{len(results)} available' + ('' if not bad else '; see the hints above'))
    return results, bool(bad)


if __name__ == '__main__':
    sys.exit(1 if main()[1] else 0)
