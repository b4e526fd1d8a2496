"""Sweep wall time with the feature cache versus re-encoding the images for every cell, on the same data.

    python tools/analysis/benchmark_sweep.py --vit-b [--pool-per-class 16 --test-per-class 4]
    python tools/analysis/benchmark_sweep.py [--config CONFIG] [--cfg-options model.foundation_model=DIR]

"cached": extract the pool/test features once (``extract_features``), then fit every cell on them.
"re-encoding": every cell extracts its own features into an empty cache (what per-run notebooks do), then fits.
Cells = ``--methods`` x ``--shots`` x ``--seeds`` (default 3 x 3 x 3 = 27). Both phases run in this process,
one after the other, on the same cells; the speed-up is always re-encoding time / cached time:

    speed-up = n (E + F) / (E + n F)    (n cells, E one extraction, F one cell's fit + prediction)

so it is bounded by n and reaches 20x for 27 cells only when one extraction costs >= 73 fits. ``--vit-b``
measures that on a ViT-B tower without any download: a random-initialised PLIP-format ViT-B/32 (PLIP's shape:
width 768, 12 layers, 12 heads, 224 px, its resize) and a synthetic SICAPv2 of 512-px tiles (SICAPv2's size)
with ``--pool-per-class`` pool and ``--test-per-class`` test images per class. A real SICAPv2 sweep encodes
~9,000 pool + 2,122 test tiles, so E/F is far larger there than at the few dozen tiles that keep this run to
minutes; the phase times printed (E and mean F) give the speed-up for any n. Without ``--vit-b`` the config's
own model and data are used (the demo's tiny tower encodes almost for free: the speed-up says little there).
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from mmmedfm.utils import register_all_modules  # noqa: E402
from mmmedfm.utils.cli import CfgOptionsAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Cached-feature sweep vs re-encoding per run')
    parser.add_argument('--config', default='configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py')
    parser.add_argument('--methods', nargs='+', default=['ZSLinearProbe', 'CLAP', 'TipAdapter'])
    parser.add_argument('--shots', nargs='+', type=int, default=[1, 4, 16])
    parser.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--vit-b', action='store_true',
                        help='random-initialised PLIP-shape ViT-B/32 and synthetic 512-px SICAPv2 tiles (no download)')
    parser.add_argument('--pool-per-class', type=int, default=16, help='--vit-b: pool images per class (>= shots)')
    parser.add_argument('--test-per-class', type=int, default=4, help='--vit-b: test images per class')
    parser.add_argument('--work-dir', help='--vit-b: where the model and images go (default: a temporary dir)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, default={},
                        help='config overrides, e.g. model.foundation_model=/path/to/a/larger/model')
    return parser.parse_args(argv)


def vit_b_options(args, work: str) -> dict:
    """``--cfg-options`` pointing the config at a random PLIP-shape ViT-B/32 and synthetic 512-px SICAPv2."""
    from mmmedfm.utils.demo_assets import make_sicapv2, make_tiny_clip
    model = make_tiny_clip(osp.join(work, 'vit-b32'), image_size=224, patch_size=32, hidden=768, layers=12,
                           heads=12, proj_dim=512)
    root = make_sicapv2(osp.join(work, 'SICAPv2'), train_per_class=args.pool_per_class,
                        test_per_class=args.test_per_class, wsis_per_class=4, size=512)
    return {'model.foundation_model': model, 'train_dataloader.dataset.data_root': root,
            'test_dataloader.dataset.data_root': root}


def run_cell(tool, features, zs, scale, method, k, seed):
    from mmmedfm.registry import MODELS
    pool, test = features
    idx = tool.support_indices(pool.labels, k, seed, list(pool.classes))
    adapter = MODELS.build(dict(type=method, seed=seed))
    adapter.fit((pool.features[idx], pool.labels[idx]), zs, scale, class_names=pool.classes)
    adapter.predict_proba(test.features)


def _sweep_tool():
    import importlib.util
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'sweep.py')
    spec = importlib.util.spec_from_file_location('sweep_tool', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    args = parse_args(argv)
    register_all_modules()
    from mmmedfm.apis.features import extract_features, zero_shot_classifier
    tool = _sweep_tool()
    cells = [(m, k, s) for m in args.methods for k in args.shots for s in args.seeds]
    n_cells = len(cells)
    with tempfile.TemporaryDirectory() as tmp:
        options = dict(args.cfg_options)
        if args.vit_b:
            options.update(vit_b_options(args, args.work_dir or osp.join(tmp, 'assets')))
        cfg = tool.pool_config(tool.backbone_config(dict(config=args.config, cfg_options=options)))
        zs, scale = zero_shot_classifier(cfg)

        def extract(cache_dir):
            return tuple(extract_features(cfg, split, cache_dir=cache_dir, batch_size=args.batch_size,
                                          progress=False) for split in ('train', 'test'))

        load = os.getloadavg()[0]
        start = time.perf_counter()
        features = extract(osp.join(tmp, 'cache'))
        extract_s = time.perf_counter() - start
        for cell in tqdm(cells, desc='cached: fit each cell', unit='cell'):
            run_cell(tool, features, zs, scale, *cell)
        cached = time.perf_counter() - start

        start = time.perf_counter()
        for i, cell in enumerate(tqdm(cells, desc='re-encoding: extract + fit each cell', unit='cell')):
            features = extract(osp.join(tmp, f'run{i}'))  # an empty cache: every run re-encodes
            run_cell(tool, features, zs, scale, *cell)
        reencode = time.perf_counter() - start

    n_images = len(features[0].labels) + len(features[1].labels)
    fit_s = (cached - extract_s) / n_cells
    tower = 'random PLIP-shape ViT-B/32 (768 x 12 layers, 224 px), 512-px tiles' if args.vit_b else \
        cfg.model.foundation_model
    print(f'{n_cells} cells ({args.methods} x shots {args.shots} x seeds {args.seeds}), {n_images} images, '
          f'{tower}; torch threads {torch.get_num_threads()}, {os.cpu_count()} cores, load average (1 min) '
          f'{load:.1f} at start, {os.getloadavg()[0]:.1f} at end')
    print(f'cached features : {cached:8.2f} s (one extraction {extract_s:.2f} s + {n_cells} fits, '
          f'{fit_s:.2f} s each)')
    print(f're-encoding     : {reencode:8.2f} s ({n_cells} extractions + fits)')
    ratio = reencode / cached
    print(f'speed-up        : {ratio:8.1f}x = re-encoding time / cached time (target >= 20x; one extraction = '
          f'{extract_s / max(fit_s, 1e-9):.0f} fits here, 20x with {n_cells} cells needs >= '
          f'{19 * n_cells / max(n_cells - 20, 1e-9):.0f})' if n_cells > 20 else
          f'speed-up        : {ratio:8.1f}x = re-encoding time / cached time (target >= 20x needs > 20 cells)')
    return ratio


if __name__ == '__main__':
    main()
