"""MMEngine's ``CheckpointHook`` with crash-safe, disk-full-safe writes on a local work dir.

MMEngine deletes the outdated checkpoint (``max_keep_ckpts``) *before* writing the new one, writes the file in
place and then points ``last_checkpoint`` at it: a run killed (or out of disk space) during the write is left
with no complete checkpoint, a partial ``.pth`` and a ``last_checkpoint`` naming a deleted file. Here:

1. the checkpoint is written to ``<name>.part``, flushed to disk (``fsync``) and renamed to ``<name>``
   (``os.replace`` is atomic on POSIX): ``<name>`` is either absent or complete;
2. outdated checkpoints are deleted only after that rename;
3. ``last_checkpoint`` is updated last, itself through a temporary file and a rename.

A write that fails (e.g. ``ENOSPC``) removes its ``.part`` file and raises one ``OSError`` naming the file and
the previous checkpoint, which is untouched. ``.part`` files left by a killed run are removed at the next start.
Remote ``out_dir`` backends (and best-checkpoint saves) keep MMEngine's behaviour.
"""
import errno
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from mmmedfm.registry import HOOKS

PARTIAL_SUFFIX = '.part'


def fsync_path(path: str, directory: bool = False) -> None:
    """Flush a file's (or a directory's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through ``path.part`` + fsync + rename: readers see the old or the new text."""
    tmp = path + PARTIAL_SUFFIX
    try:
        with open(tmp, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    fsync_path(osp.dirname(osp.abspath(path)), directory=True)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) whose periodic checkpoints survive a kill or a full disk.

    See the module docstring for the write protocol. ``tools/train.py --resume`` pairs with it: it resumes from
    the newest checkpoint that loads and skips (naming) any that does not.
    """

    def _atomic(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._atomic() and is_main_process():
            for path in sorted(glob.glob(osp.join(glob.escape(self.out_dir), '*' + PARTIAL_SUFFIX))):
                os.remove(path)
                runner.logger.warning(f'Removed {path}: an incomplete checkpoint left by an interrupted run.')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._atomic():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            # Recorded in the checkpoint's message hub (as MMEngine does) so that a resume keeps the same list.
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        path = osp.join(self.out_dir, filename)
        previous = runner.message_hub.get_info('last_ckpt')  # also set after a resume
        self.last_ckpt = path
        runner.message_hub.update_info('last_ckpt', path)
        tmp = path + PARTIAL_SUFFIX
        try:
            runner.save_checkpoint(self.out_dir, filename + PARTIAL_SUFFIX, self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
            if not is_main_process():  # runner.save_checkpoint writes on the main process only
                return
            fsync_path(tmp)
            os.replace(tmp, path)
            fsync_path(self.out_dir, directory=True)
        except OSError as e:
            if is_main_process() and osp.exists(tmp):
                os.remove(tmp)
            kept = (f'the previous checkpoint {previous} is intact' if previous and osp.isfile(previous) else 'no earlier checkpoint exists')
            raise OSError(e.errno, f'Cannot write checkpoint {path}: {e.strerror or e}; {kept}. '
                          f'{"Free disk space, then " if e.errno == errno.ENOSPC else ""}'
                          'continue with tools/train.py --resume.') from None
        for old in outdated:
            old_path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if old_path != path and osp.isfile(old_path):
                os.remove(old_path)
        write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'), path)
