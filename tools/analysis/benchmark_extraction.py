"""Throughput of feature extraction: first run (encode) vs second run (cache hit).

    python tools/analysis/benchmark_extraction.py configs/demo/zeroshot_plip_sicapv2_demo.py --split test

Uses a fresh temporary cache folder so the first run always encodes.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmedfm.utils.cli import CfgOptionsAction, read_config  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='test', choices=['train', 'val', 'test'])
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--device', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    args = parser.parse_args(argv)
    import torch
    from mmmedfm.apis import extract_features
    cfg = read_config(args.config, args.cfg_options)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for run in ('first (encode)', 'second (cache hit)'):
            t0 = time.perf_counter()
            feats = extract_features(cfg, args.split, cache_dir=cache, batch_size=args.batch_size,
                                     device=args.device, progress=False)
            dt = time.perf_counter() - t0
            rows.append((run, len(feats), dt, len(feats) / dt))
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    print(f'\nconfig {args.config} split {args.split} device {device} threads {torch.get_num_threads()} '
          f'batch {args.batch_size}; wall time incl. model/dataset build')
    print(f'{"run":<20}{"images":>8}{"seconds":>10}{"img/s":>12}')
    for run, n, dt, ips in rows:
        print(f'{run:<20}{n:>8}{dt:>10.2f}{ips:>12.1f}')
    return rows


if __name__ == '__main__':
    main()
