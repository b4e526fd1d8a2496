"""Pick the checkpoint that ``tools/train.py --resume`` continues from: the newest one that loads.

MMEngine's auto-resume trusts ``<work_dir>/last_checkpoint`` blindly: a file it names that was deleted or left
incomplete ends the run ("can not be found" / a truncated-zip error). Here every ``epoch_N.pth`` /
``iter_N.pth`` of the work dir (and the file ``last_checkpoint`` names) is a candidate, newest step first; the
first one that loads is used, and each one skipped is named with the reason.
"""
import glob
import os.path as osp
import re
from typing import Callable, List, Optional, Tuple

from mmmedfm.utils.compat import safe_torch_load

_STEP = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


class NothingToResumeError(FileNotFoundError):
    """``--resume`` found no loadable checkpoint in the work dir."""


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints of ``work_dir``, newest first: ``last_checkpoint``'s target, then ``epoch_N``/``iter_N``
    files by decreasing ``N`` (epoch and iter files are not mixed in practice)."""
    found = []
    for path in glob.glob(osp.join(glob.escape(work_dir), '*.pth')):
        m = _STEP.match(osp.basename(path))
        if m:
            found.append((int(m.group(2)), path))
    ordered = [p for _, p in sorted(found, reverse=True)]
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
        if last and last not in ordered:
            ordered.insert(0, last)
    return ordered


def _loadable(path: str) -> Tuple[bool, str]:
    if not osp.isfile(path):
        return False, 'the file does not exist'
    try:
        ckpt = safe_torch_load(path, map_location='cpu')
    except Exception as e:  # noqa: BLE001 - any failure to read means "not resumable"; the reason is reported
        return False, str(e).splitlines()[0]
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt or 'meta' not in ckpt:
        return False, 'not a training checkpoint (no state_dict/meta)'
    return True, ''


def find_resumable_checkpoint(work_dir: str, log: Callable[[str], None] = print) -> Optional[str]:
    """The newest checkpoint of ``work_dir`` that loads, or None when there is none.

    Args:
        work_dir (str): The run's work dir.
        log (callable): Receives one line per skipped checkpoint. Defaults to ``print``.
    """
    for path in resume_candidates(work_dir):
        ok, why = _loadable(path)
        if ok:
            return path
        log(f'--resume: skipping {path}: {why}.')
    return None
