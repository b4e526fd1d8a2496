"""Guard against mixing two experiments in one work dir.

``tools/train.py`` records the experiment's definition in ``<work_dir>/experiment.json`` (the merged config
minus run-time bookkeeping such as the work dir, launcher, loader worker counts and hooks). A later run
into the same work dir with a different definition is refused -- it would overwrite the other experiment's
checkpoints and interleave its logs -- unless it resumes (``--resume``: e.g. more epochs) or says ``--force``.
"""
import json
import os
import os.path as osp
from typing import Dict, List

EXPERIMENT_FILE = 'experiment.json'
# Settings that do not change what is trained or measured.
IGNORED_TOP_LEVEL = {'work_dir', 'resume', 'load_from', 'launcher', 'env_cfg', 'log_level', 'log_processor',
                     'visualizer', 'vis_backends', 'default_hooks', 'custom_hooks', 'custom_imports',
                     'default_scope', 'filename', 'text', 'pretty_text'}
IGNORED_LEAVES = {'num_workers', 'persistent_workers', 'pin_memory', 'collate_fn', 'worker_init_fn',
                  # the decoded-image cache gives the JPEG path's numbers
                  'cache_decoded', 'decoded_cache_dir', 'decoded_cache_workers', 'decoded_resize'}


def _flatten(node, prefix='') -> Dict[str, str]:
    out = {}
    if isinstance(node, dict):
        for k, v in node.items():
            if (not prefix and k in IGNORED_TOP_LEVEL) or k in IGNORED_LEAVES:
                continue
            out.update(_flatten(v, f'{prefix}{k}.'))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            out.update(_flatten(v, f'{prefix}{i}.'))
    else:
        out[prefix[:-1]] = json.dumps(node, default=repr, sort_keys=True)
    return out


def experiment_definition(cfg) -> Dict[str, str]:
    """Flat ``{'model.head.num_classes': '4', ...}`` view of what defines the experiment in ``cfg``."""
    return _flatten(cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg))


def diff_definitions(old: Dict[str, str], new: Dict[str, str]) -> List[str]:
    """Keys that differ, as ``key: old -> new`` lines (sorted)."""
    return [f'{k}: {old.get(k, "<unset>")} -> {new.get(k, "<unset>")}'
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def check_work_dir(cfg, resume: bool = False, force: bool = False, write: bool = True) -> None:
    """Refuse a work dir that holds another experiment; record this one.

    Args:
        cfg (Config): The merged config (``cfg.work_dir`` set).
        resume (bool): The run resumes: a changed definition (e.g. more epochs) is allowed.
        force (bool): Write into the work dir even if it holds another experiment.
        write (bool): Record the definition (rank 0 only). Defaults to True.

    Raises:
        ValueError: ``experiment.json`` is unreadable (truncated); names the file.
        FileExistsError: ``cfg.work_dir`` holds a different experiment; names the file and the first keys
            that differ. Nothing in the work dir has been touched.
    """
    path = osp.join(cfg.work_dir, EXPERIMENT_FILE)
    new = experiment_definition(cfg)
    if osp.isfile(path) and not (resume or force):
        try:
            with open(path) as f:
                old = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f'{path} is not valid JSON ({e}); it records the experiment of --work-dir '
                             f'{cfg.work_dir} and is probably truncated. Nothing was changed: use another '
                             '--work-dir, --resume to continue that run, or --force to write into it (which '
                             'rewrites the file).') from None
        changes = diff_definitions(old, new)
        if changes:
            shown = '\n  '.join(changes[:8]) + (f'\n  ... ({len(changes) - 8} more)' if len(changes) > 8 else '')
            raise FileExistsError(
                f'--work-dir {cfg.work_dir} holds another experiment ({path}); refusing to overwrite it. '
                f'{len(changes)} setting(s) differ:\n  {shown}\nUse another --work-dir, --resume to continue '
                'that run, or --force to write into it anyway.')
    if write:
        os.makedirs(cfg.work_dir, exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(new, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
