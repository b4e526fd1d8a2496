"""Train a model from a config (MMPretrain's ``tools/train.py`` flags)."""
import argparse
import logging
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a source checkout too

import torch  # noqa: E402
from mmengine.dist import get_world_size  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmmedfm.engine.runner import ConciseRunner  # noqa: E402

from mmmedfm.engine.checks import check_trainable  # noqa: E402
from mmmedfm.engine.resume import NothingToResumeError, find_resumable_checkpoint  # noqa: E402
from mmmedfm.utils import register_all_modules  # noqa: E402
from mmmedfm.utils.cli import (add_common_args, amp_dtype, load_config, set_dataloader_defaults,  # noqa: E402
                               set_eval_amp)
from mmmedfm.utils.work_dir import check_work_dir  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or from the newest loadable one in the work dir if no '
                        'path (an error when there is none)')
    parser.add_argument('--resume-or-start', action='store_true',
                        help='like --resume without a path, but train from scratch when there is nothing to resume')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (bf16 where supported, else fp16 with loss scaling)')
    parser.add_argument('--no-validate', action='store_true', help='do not evaluate during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual total batch size / auto_scale_lr.base_batch_size')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='disable persistent_workers in dataloaders')
    parser.add_argument('--force', action='store_true',
                        help='write into a --work-dir that holds another experiment (see mmmedfm/utils/work_dir.py)')
    add_common_args(parser)
    return parser.parse_args(argv)


def merge_args(cfg, args):
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        # MMEngine's AmpOptimWrapper needs an accelerator; on CPU, bf16 autocast without loss scaling
        cfg.optim_wrapper.type = 'AmpOptimWrapper' if torch.cuda.is_available() else 'AutocastOptimWrapper'
        cfg.optim_wrapper.setdefault('dtype', amp_dtype())
        if cfg.optim_wrapper.dtype == 'float16':
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        set_eval_amp(cfg, 'val_cfg')  # bf16 validation too
    if args.resume == 'auto' or args.resume_or_start:
        found = find_resumable_checkpoint(cfg.work_dir, log=lambda msg: print_log(msg, level=logging.WARNING))
        if found is None and not args.resume_or_start:
            raise NothingToResumeError(
                f'--resume: nothing to resume in {cfg.work_dir} (no loadable epoch_*.pth / iter_*.pth). Run '
                'without --resume to start training, or pass --resume-or-start to start when there is nothing '
                'to resume.')
        if found is not None:
            print_log(f'--resume: continuing from {found}', logger='current')
        cfg.resume, cfg.load_from = found is not None, found
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    set_dataloader_defaults(cfg, ('train_dataloader', 'val_dataloader', 'test_dataloader'),
                            pin_memory=not args.no_pin_memory,
                            persistent_workers=not args.no_persistent_workers)
    return cfg


def global_batch_message(per_process: int, world_size: int, accumulate: int = 1) -> str:
    """What one optimiser step sees under DDP, and how to keep the single-process recipe."""
    total = per_process * world_size * accumulate
    msg = (f'Effective global batch = {per_process} per process x {world_size} process(es)'
           f'{f" x {accumulate} accumulation steps" if accumulate > 1 else ""} = {total} images per step.')
    if world_size > 1:
        single = per_process * accumulate
        keep = (f'--cfg-options train_dataloader.batch_size={per_process // world_size}'
                if per_process % world_size == 0 else
                f'a per-process batch of {per_process}/{world_size} (not an integer: use optim_wrapper.'
                f'accumulative_counts or fewer processes)')
        msg += (f' The config was written for {single} per step on one process: to keep that global batch, pass '
                f'{keep}; or keep {total} and scale the learning rate with --auto-scale-lr.')
    return msg


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    cfg = merge_args(load_config(args), args)
    # Before the Runner creates anything in the work dir: refuse one that holds another experiment.
    check_work_dir(cfg, resume=bool(cfg.get('resume')), force=args.force,
                   write=int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0))) == 0)
    runner = ConciseRunner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    check_trainable(runner.model, cfg.model)
    world_size = get_world_size()
    print_log(global_batch_message(int(cfg.train_dataloader.batch_size), world_size,
                                   int(cfg.optim_wrapper.get('accumulative_counts', 1))), logger='current',
              level=logging.WARNING if world_size > 1 else logging.INFO)
    runner.train()
    return runner


if __name__ == '__main__':
    from mmmedfm.utils.cli import run_cli
    run_cli(main)
