"""Test (and evaluate) a checkpoint (MMPretrain's ``tools/test.py`` flags)."""
import argparse
import os.path as osp
import sys
from copy import deepcopy

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a source checkout too

from mmengine.config import ConfigDict  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmmedfm.engine.runner import ConciseRunner  # noqa: E402

from mmmedfm.apis.inference import is_merged_checkpoint, without_lora  # noqa: E402
from mmmedfm.engine.checks import refuse_untrained  # noqa: E402
from mmmedfm.evaluation import read_temperature  # noqa: E402
from mmmedfm.utils import register_all_modules  # noqa: E402
from mmmedfm.utils.cli import add_common_args, load_config, set_dataloader_defaults, set_eval_amp  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file; omit for zero-shot configs that need no training')
    parser.add_argument('--out', help='dump predictions (or metrics, see --out-item) to this .pkl/.json file')
    parser.add_argument('--out-item', choices=['metrics', 'pred'], default='pred')
    parser.add_argument('--amp', action='store_true', help='mixed-precision inference')
    parser.add_argument('--show-dir', help='save visualised predictions to this directory')
    parser.add_argument('--interval', type=int, default=1, help='visualise every n-th sample')
    parser.add_argument('--untrained', action='store_true',
                        help='evaluate a trainable model without a checkpoint (as built: pretrained weights and '
                        'freshly initialised adapters/heads); otherwise refused')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation: the config\'s tta_pipeline/tta_model, or flips averaged')
    parser.add_argument('--temperature', help='temperature scaling of the probabilities: a number or the JSON '
                        'written by tools/analysis/calibrate.py --out')
    add_common_args(parser)
    return parser.parse_args(argv)


def merge_args(cfg, args):
    cfg.load_from = args.checkpoint
    if args.amp:
        set_eval_amp(cfg, 'test_cfg')
    if args.show_dir is not None:
        vis = cfg.default_hooks.visualization
        vis.enable, vis.out_dir, vis.interval = True, args.show_dir, args.interval
    if is_merged_checkpoint(args.checkpoint):  # LoRA already folded into the base weights
        without_lora(cfg)
    temperature = 1. if args.temperature is None else read_temperature(args.temperature)
    if args.tta:
        tta_model = dict(cfg.get('tta_model') or dict(type='mmpretrain.AverageClsScoreTTA'))
        if tta_model['type'] in ('mmpretrain.AverageClsScoreTTA', 'AverageClsScoreTTA'):
            tta_model = dict(tta_model, type='CalibratedTTA', temperature=temperature)
        elif temperature != 1.:
            raise ValueError(f"--temperature works with AverageClsScoreTTA, not tta_model={tta_model['type']!r}.")
        if 'tta_pipeline' not in cfg:
            test_pipeline = cfg.test_dataloader.dataset.pipeline
            cfg.tta_pipeline = deepcopy(test_pipeline)
            cfg.tta_pipeline[-1] = dict(type='TestTimeAug', transforms=[
                [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)], [test_pipeline[-1]]])
        cfg.model = ConfigDict(**tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    elif temperature != 1.:
        cfg.model = ConfigDict(type='CalibratedTTA', temperature=temperature, module=cfg.model)
    set_dataloader_defaults(cfg, ('test_dataloader', ), pin_memory=not args.no_pin_memory)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    cfg = merge_args(load_config(args), args)
    runner = ConciseRunner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if args.checkpoint is None and not args.untrained:
        refuse_untrained(runner.model, args.config)
    if args.out and args.out_item in (None, 'pred'):
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        import mmengine
        mmengine.dump(metrics, args.out)
    return metrics


if __name__ == '__main__':
    from mmmedfm.utils.cli import run_cli
    run_cli(main)
