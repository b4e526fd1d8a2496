"""Evaluation throughput with the decoded-image cache versus the JPEG path, same model, side by side.

    python tools/analysis/benchmark_eval_cache.py [--images 400] [--size 300] [--hidden 128 --layers 2]

Writes a synthetic SICAPv2 test split of ``--size``-px JPEG tiles and a PLIP-format CLIP (ViT-B/32 layout,
width ``--hidden``), then evaluates the split twice through the config's test pipeline, the model's data
preprocessor and ``model.test_step`` (MMEngine's TestLoop body; bf16 autocast on GPU):

* ``jpeg``: every image decoded on every pass (``cache_decoded=False``) and resized by the model's data
  preprocessor (PLIP's resize: shorter side to ``--input-size``, bicubic antialiased, centre crop);
* ``decoded cache``: the same split read from the decoded-image cache (``cache_decoded=True``), which stores
  the images already resized by that same resize (built once, before timing; its build time is printed
  separately); the preprocessor only crops (a no-op here) and normalises.

Both sides use the same DataLoader settings (``--num-workers``, ``--batch``). Prints img/s and the ratio
(target >= 3x on 2 CPU cores with a small model).
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import torch  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--images', type=int, default=400, help='test images (split over 4 classes)')
    p.add_argument('--size', type=int, default=300, help='JPEG tile size (px)')
    p.add_argument('--input-size', type=int, default=224, help="model input size (the model's resize: size, crop)")
    p.add_argument('--hidden', type=int, default=32)
    p.add_argument('--layers', type=int, default=1)
    p.add_argument('--heads', type=int, default=2)
    p.add_argument('--patch-size', type=int, default=32)
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--num-workers', type=int, default=0)
    p.add_argument('--passes', type=int, default=3, help='timed passes over the split per side (interleaved)')
    p.add_argument('--work-dir', help='assets and cache (default: a temporary dir)')
    return p.parse_args(argv)


def build_config(model_dir, data_root, args):
    """The demo config on these assets; the model's resize (PLIP's: shorter side bicubic, centre crop) at
    ``--input-size``. ``read_config`` hands that resize to the datasets, so the cache stores resized images."""
    from mmmedfm.utils.cli import read_config
    opts = {'model.foundation_model': model_dir, 'test_dataloader.dataset.data_root': data_root,
            'model.data_preprocessor.resize.size': args.input_size,
            'model.data_preprocessor.resize.crop_size': args.input_size}
    return read_config(osp.join(ROOT, 'configs', 'demo', 'lora-zs_plip_16shot-20e_sicapv2_demo.py'), opts)


def make_loader(dataset, args):
    from mmengine.dataset import default_collate
    return torch.utils.data.DataLoader(dataset, batch_size=args.batch, num_workers=args.num_workers,
                                       collate_fn=default_collate, persistent_workers=args.num_workers > 0)


def timed_pass(model, loader, device):
    """``(images, seconds)`` of one pass of ``model.test_step`` over ``loader`` (bf16 autocast on GPU)."""
    amp = torch.autocast('cuda', dtype=torch.bfloat16) if device.type == 'cuda' else torch.autocast('cpu',
                                                                                                   enabled=False)
    with torch.no_grad(), amp:
        start, n = time.perf_counter(), 0
        for data in loader:
            model.test_step(data)
            n += len(data['data_samples'])
        if device.type == 'cuda':
            torch.cuda.synchronize()
    return n, time.perf_counter() - start


def evaluate_side_by_side(model, datasets, args, device):
    """img/s per dataset: one warm-up batch each, then ``args.passes`` rounds in which every dataset makes one
    pass in turn (interleaved, so a change of machine load hits both sides alike)."""
    loaders = {name: make_loader(ds, args) for name, ds in datasets.items()}
    with torch.no_grad():
        for loader in loaders.values():
            model.test_step(next(iter(loader)))
    totals = {name: [0, 0.] for name in loaders}
    for _ in range(args.passes):
        for name, loader in loaders.items():
            n, seconds = timed_pass(model, loader, device)
            totals[name][0] += n
            totals[name][1] += seconds
    return {name: n / seconds for name, (n, seconds) in totals.items()}


def main(argv=None):
    args = parse_args(argv)
    from mmmedfm.registry import DATASETS, MODELS
    from mmmedfm.utils import register_all_modules
    from mmmedfm.utils.demo_assets import make_sicapv2, make_tiny_clip
    register_all_modules()
    tmp = None if args.work_dir else tempfile.TemporaryDirectory()
    work = args.work_dir or tmp.name
    os.makedirs(work, exist_ok=True)
    model_dir = make_tiny_clip(osp.join(work, 'clip'), image_size=args.input_size, patch_size=args.patch_size,
                               hidden=args.hidden, layers=args.layers, heads=args.heads)
    data_root = make_sicapv2(osp.join(work, 'SICAPv2'), train_per_class=1, test_per_class=-(-args.images // 4),
                             wsis_per_class=2, size=args.size)
    cfg = build_config(model_dir, data_root, args)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = MODELS.build(cfg.model).to(device).eval()
    ds_cfg = cfg.test_dataloader.dataset.to_dict()
    jpeg = DATASETS.build(dict(ds_cfg, cache_decoded=False))
    start = time.perf_counter()
    cached = DATASETS.build(dict(ds_cfg, cache_decoded=True, decoded_cache_dir=osp.join(work, 'decoded'),
                                 decoded_cache_workers=args.num_workers))
    build_s = time.perf_counter() - start
    load = os.getloadavg()[0]
    results = evaluate_side_by_side(model, {'jpeg': jpeg, 'decoded cache': cached}, args, device)
    where = (torch.cuda.get_device_name() if device.type == 'cuda' else
             f'cpu, {torch.get_num_threads()} threads, {os.cpu_count()} cores, load average (1 min) '
             f'{load:.1f} at start, {os.getloadavg()[0]:.1f} at end')
    print(f'\n{len(jpeg)} test images {args.size}px -> {args.input_size}px, ViT {args.layers}x{args.hidden} '
          f'patch {args.patch_size}, batch {args.batch}, {args.num_workers} workers, {where}')
    print(f'decoded cache built once in {build_s:.1f}s ({len(jpeg) / build_s:.0f} img/s)')
    for name, ips in results.items():
        print(f'{name:15s} {ips:9.1f} img/s')
    print(f'ratio decoded cache / jpeg: {results["decoded cache"] / results["jpeg"]:.2f}x (target >= 3x)')
    if tmp is not None:
        tmp.cleanup()
    return results


if __name__ == '__main__':
    main()
