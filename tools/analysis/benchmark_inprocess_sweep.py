"""Wall time of a PEFT sweep run in one process versus one ``tools/train.py`` process per cell, side by side.

    python tools/analysis/benchmark_inprocess_sweep.py [--shots 1 2] [--seeds 1 2 3 4 5] [--epochs 1]

Writes the demo assets (a tiny PLIP-format CLIP and a synthetic SICAPv2, 64 px) into a temporary folder and
runs the same LoRA sweep (``shots x seeds`` cells, 10 by default) twice through ``tools/sweep.py``:
``in_process=True`` (every cell in the sweep's process, pretrained weights loaded once, decoded caches
shared) and ``in_process=False`` (a subprocess per cell). Prints both wall times, the ratio (target >= 2x)
and the largest metric difference between the two result files (0: the same numbers).
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--shots', nargs='+', type=int, default=[1, 2])
    p.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3, 4, 5])
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--work-dir', help='assets and sweep outputs (default: a temporary dir)')
    return p.parse_args(argv)


def sweep_config(work, model_dir, data_root, args, in_process):
    opts = {'model.foundation_model': model_dir,
            'model.data_preprocessor.resize.size': 64, 'model.data_preprocessor.resize.crop_size': 64}
    for loader in ('train_dataloader', 'val_dataloader'):
        opts.update({f'{loader}.dataset.data_root': data_root,
                     f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    method_opts = {'train_cfg.max_epochs': args.epochs, 'train_cfg.val_interval': args.epochs,
                   'train_dataloader.batch_size': 4}
    cfg = dict(backbones=[dict(name='tiny-plip', config=osp.join(ROOT, 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'),
                               cfg_options=opts)],
               methods=[dict(name='LoRA', train_config=osp.join(ROOT, 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'),
                             cfg_options=method_opts)],
               shots=list(args.shots), seeds=list(args.seeds), dataset='SICAPv2-demo', in_process=in_process,
               out_dir=osp.join(work, 'in_process' if in_process else 'per_cell'))
    path = osp.join(work, f'sweep_{int(in_process)}.py')
    with open(path, 'w') as f:
        f.writelines(f'{k} = {v!r}\n' for k, v in cfg.items())
    return path, cfg['out_dir']


def main(argv=None):
    args = parse_args(argv)
    from mmmedfm.utils.demo_assets import make_sicapv2, make_tiny_clip
    tmp = None if args.work_dir else tempfile.TemporaryDirectory()
    work = args.work_dir or tmp.name
    os.makedirs(work, exist_ok=True)
    model_dir = make_tiny_clip(osp.join(work, 'tiny-plip'), image_size=64, patch_size=16, hidden=32, proj_dim=16)
    data_root = make_sicapv2(osp.join(work, 'SICAPv2'), train_per_class=12, test_per_class=6, wsis_per_class=3,
                             size=64)
    spec = importlib.util.spec_from_file_location('sweep_tool', osp.join(ROOT, 'tools', 'sweep.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    walls, rows = {}, {}
    for in_process in (False, True):
        path, out_dir = sweep_config(work, model_dir, data_root, args, in_process)
        start = time.perf_counter()
        results = tool.main([path, '--no-progress'])
        walls[in_process] = time.perf_counter() - start
        with open(results) as f:
            rows[in_process] = {r['cell_id']: r for r in map(json.loads, f)}
    diff = max(abs(a[k] - rows[True][cid][k]) for cid, a in rows[False].items() for k in a
               if isinstance(a[k], float) and k not in ('wall_time_s', 'time', 'data_time'))
    n = len(rows[True])
    print(f'\n{n} LoRA cells (tiny PLIP-format CLIP, synthetic SICAPv2 64 px, {args.epochs} epoch(s) each), '
          f'{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}')
    print(f'one process per cell: {walls[False]:8.1f} s')
    print(f'in-process:           {walls[True]:8.1f} s')
    print(f'ratio per-cell / in-process: {walls[False] / walls[True]:.2f}x (target >= 2x); largest metric '
          f'difference between the two: {diff:.3g}')
    if tmp is not None:
        tmp.cleanup()
    return walls, diff


if __name__ == '__main__':
    main()
