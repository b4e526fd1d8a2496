"""Doctor: is each foundation model available offline, and where should it go if not?

    python tools/misc/check_models.py                       # every model in the manifest
    python tools/misc/check_models.py --config configs/zeroshot/plip_sicapv2.py   # what a config uses

Status per model: ``local`` (a directory/file on disk), ``cache`` (HF / open_clip cache), ``missing``
(with the exact folder to create and the command to fill it on a machine with internet).
"""
import argparse
import glob
import hashlib
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmedfm.models.manifest import KNOWN_MODELS, find_model  # noqa: E402


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


def check(model_id: str, model_name: str = None, verify: bool = False) -> dict:
    """Status of one model id/path: dict(id, status, where, hint, licence)."""
    entry = find_model(model_id if model_name is None else f'{model_name}/{model_id}') or {}
    licence = entry.get('licence', 'unknown (not in the manifest)')
    if osp.exists(model_id):
        res = dict(id=model_id, status='local', where=osp.abspath(model_id), hint='', licence=licence)
        if verify and entry.get('sha256') and osp.isfile(model_id):
            res['sha256_ok'] = sha256_file(model_id) == entry['sha256']
        return res
    local = entry.get('local_dir')
    if local and osp.isdir(local) and _files_present(local, entry['files']):
        return dict(id=model_id, status='local', where=osp.abspath(local),
                    hint=f'use it with --cfg-options model.foundation_model={local}', licence=licence)
    repo = model_id.replace('hf-hub:', '')
    cached = (_open_clip_tag_cached(model_name, model_id) if model_name else
              repo.count('/') == 1 and _in_hf_cache(repo))
    if cached:
        return dict(id=model_id, status='cache', where='Hugging Face cache', hint='', licence=licence)
    local = local or osp.join('data', 'models', repo.split('/')[-1])
    if model_name:
        hint = (f"on a machine with internet: python -c \"import open_clip; open_clip.create_model('{model_name}', "
                f"pretrained='{model_id}')\" and copy ~/.cache/huggingface here, or put the checkpoint file in "
                f'{local}/ and set model.foundation_model={local}/<file> (keep model_name={model_name})')
    else:
        hint = (f'on a machine with internet: huggingface-cli download {repo} --local-dir {local} ; copy {local}/ '
                f'here and run with --cfg-options model.foundation_model={local}')
    return dict(id=model_id, status='missing', where=local, hint=hint, licence=licence)


def models_of_config(path: str):
    """(pretrained, model_name) pairs a config's model uses (backbone, text encoder)."""
    from mmengine.config import Config
    from mmmedfm.models.classifiers.vlm_classifier import fill_foundation_model
    model = fill_foundation_model(Config.fromfile(path).model.to_dict())
    parts = [model.get('backbone') or {}, (model.get('head') or {}).get('text_encoder') or {}]
    seen = []
    for p in parts:
        if p.get('pretrained') and (p['pretrained'], p.get('model_name')) not in seen:
            seen.append((p['pretrained'], p.get('model_name')))
    return seen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', help='check only the model(s) this config uses')
    parser.add_argument('--verify', action='store_true', help='check sha256 of local files where known')
    args = parser.parse_args(argv)
    if args.config:
        targets = models_of_config(args.config)
    else:
        targets = []
        for e in KNOWN_MODELS:
            name, _, tag = e['id'].rpartition('/') if e['id'] == 'ViT-B-16/openai' else ('', '', '')
            targets.append((tag, name) if tag else (e['id'], None))
    results = [dict(check(pid, name, args.verify), model_name=name) for pid, name in targets]
    for r in results:
        label = f"{r['model_name']} / {r['id']}" if r['model_name'] else r['id']
        print(f"[{r['status']:>7}] {label}  ({r['licence']})")
        print(f"          {r['where']}" + (f"\n          -> {r['hint']}" if r['hint'] else ''))
    return results


if __name__ == '__main__':
    main()
