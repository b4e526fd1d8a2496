"""Encode the image–caption pairs of an adaptor config into the unimodal cache (resumable, multi-GPU).

    python tools/extract_unimodal.py configs/adaptor/adaptor_dinov2-b-biolinkbert_20e_patchgastric.py
    torchrun --nproc_per_node 4 tools/extract_unimodal.py CONFIG --launcher pytorch

Each rank encodes its share of the fp16 safetensors shards (finished shards are skipped, so an interrupted
run resumes); rank 0 writes each cache's ``index.json`` once every shard exists.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a source checkout too

from mmmedfm.utils.cli import add_encode_args, init_launcher, read_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Extract frozen unimodal embeddings (image + caption tokens)')
    parser.add_argument('config', help='adaptor config file path')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'], choices=['train', 'val', 'test'],
                        help='dataloaders whose dataset to encode (default: all three; a split whose source is '
                        'already cached, e.g. val carved from train, is a cache hit)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    add_encode_args(parser, "cuda / cpu (default: this rank's GPU when available)")
    return parser.parse_args(argv)


def main(argv=None):
    from mmmedfm.apis.unimodal import extract_unimodal
    from mmmedfm.utils import register_all_modules
    args = parse_args(argv)
    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    rank, world_size = init_launcher(args.launcher)
    out = {}
    for split in args.splits:
        out[split] = extract_unimodal(cfg, split, batch_size=args.batch_size, device=args.device, rank=rank,
                                      world_size=world_size, progress=not args.no_progress)
        if rank == 0:
            print(f'{split}: image cache {out[split]["image"]}\n{split}: text cache  {out[split]["text"]}')
    return out


if __name__ == '__main__':
    from mmmedfm.utils.cli import run_cli
    run_cli(main)
