"""Extract (or read from cache) frozen image embeddings of a config's split.

    python tools/extract_features.py configs/peft/zeroshot_plip_sicapv2.py --split test
    python tools/extract_features.py CONFIG --split train --cache-dir work_dirs/feature_cache --out feats

Writes ``{cache_dir}/{split}_{key}.safetensors`` (features, labels) + ``.json`` (image ids, WSI ids,
classes); ``--out`` also saves a copy under a name of your choice.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a source checkout too

from mmmedfm.utils.cli import add_encode_args, read_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Extract frozen image features (cached)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='test')
    parser.add_argument('--cache-dir', default='work_dirs/feature_cache')
    parser.add_argument('--out', help='also save the FeatureSet to this folder (safetensors + index.json)')
    add_encode_args(parser, 'cuda / cpu (default: cuda when available)')
    return parser.parse_args(argv)


def main(argv=None):
    from mmmedfm.apis import extract_features
    from mmmedfm.utils import register_all_modules
    args = parse_args(argv)
    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    feats = extract_features(cfg, args.split, cache_dir=args.cache_dir, batch_size=args.batch_size,
                             device=args.device, progress=not args.no_progress)
    if args.out:
        feats.save(args.out)
    print(f'{args.split}: {len(feats)} images, features {tuple(feats.features.shape)}, '
          f'classes {feats.classes}')
    return feats


if __name__ == '__main__':
    from mmmedfm.utils.cli import run_cli
    run_cli(main)
