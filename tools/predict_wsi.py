"""Whole-slide inference: tile heatmaps and slide-level predictions from a (few-shot trained) model.

    python tools/predict_wsi.py CONFIG CHECKPOINT SLIDE_OR_FOLDER --out DIR [--mpp 1.0 --tile-size 256]
    bash tools/dist_predict_wsi.sh CONFIG CHECKPOINT GPUS SLIDE_OR_FOLDER --out DIR   # slides split over GPUs

CHECKPOINT may hold only the trainable parameters (PEFT); ``none`` runs the zero-shot model of the config.
Tissue is found on a thumbnail (Otsu threshold of the HSV saturation by default), tiles of ``--tile-size``
pixels are taken at ``--mpp`` microns per pixel (or at ``--level`` for slides without a resolution) and
predicted with the config's test pipeline; the slide probability aggregates the tiles as the config's
WSIMetric does (mean of tile probabilities unless ``aggregate='vote'``). Per slide, ``DIR/{slide}/`` gets
``tiles.csv``, ``thumbnail.png``, ``heatmap_{class}.png`` and ``prediction.json``; ``DIR/summary.csv`` lists
all slides. Slides already done are skipped (``--overwrite`` redoes them).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a source checkout too

from mmmedfm.utils.cli import add_model_args, model_checkpoint  # noqa: E402


def _threshold(value):
    return value if value in ('otsu', 'triangle') else float(value)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Predict whole slides: tile CSVs, heatmaps, slide predictions')
    add_model_args(parser, overwrite_help='redo slides that are already done')
    parser.add_argument('input', help='slide file, or folder of slides (searched recursively)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--mpp', type=float, default=1.0,
                        help='tile resolution in microns per pixel (default 1.0, ~10x; match the training '
                        'patches: SICAPv2 10x, PatchGastric 20x = 0.5)')
    parser.add_argument('--level', type=int, help='tile at this pyramid level instead of --mpp (slides '
                        'without resolution)')
    parser.add_argument('--tile-size', type=int, default=256, help='tile side in pixels (default 256)')
    parser.add_argument('--thumb-size', type=int, default=1024, help='thumbnail size for tissue and heatmaps')
    parser.add_argument('--tissue-channel', choices=['saturation', 'darkness'], default='saturation')
    parser.add_argument('--tissue-threshold', type=_threshold, default='otsu',
                        help="'otsu' (default), 'triangle' (keeps pale tissue next to dark tissue) or a value "
                        'in 0-255')
    parser.add_argument('--min-tissue', type=float, default=0.5, help='minimum tissue fraction of a tile')
    parser.add_argument('--aggregate', choices=['mean', 'vote'],
                        help="slide aggregation (default: the config's WSIMetric setting, else mean)")
    parser.add_argument('--cmap', default='jet', help='matplotlib colormap of the heatmaps')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (slides are split across ranks)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def _setup_dist(launcher):
    """``(rank, world_size, device)``; each rank on its own GPU (gloo on CPU-only machines)."""
    import torch
    from mmmedfm.utils.cli import init_launcher
    if launcher == 'none':
        return 0, 1, None
    rank, world = init_launcher(launcher)
    device = f'cuda:{torch.cuda.current_device()}' if torch.cuda.is_available() else 'cpu'
    return rank, world, device


def main(argv=None):
    args = parse_args(argv)
    from mmengine.dist import all_gather_object, barrier

    from mmmedfm.apis import SlideError, init_model, list_slides, predict_slides, write_summary
    checkpoint = model_checkpoint(args.config, args.checkpoint)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    rank, world, device = _setup_dist(args.launcher)
    paths = list_slides(args.input)
    os.makedirs(args.out, exist_ok=True)
    model = init_model(args.config, checkpoint, args.device or device, args.cfg_options)
    status = predict_slides(model, paths, args.out, resume=not args.overwrite, rank=rank, world_size=world,
                            cmap=args.cmap, tile_size=args.tile_size, mpp=args.mpp, level=args.level,
                            thumb_size=args.thumb_size, tissue_channel=args.tissue_channel,
                            tissue_threshold=args.tissue_threshold, min_tissue=args.min_tissue,
                            aggregate=args.aggregate, batch_size=args.batch_size, num_workers=args.num_workers,
                            progress=rank == 0)
    merged = {}
    for r, part in enumerate(all_gather_object(status) if world > 1 else [status]):
        merged.update(part)
        if world > 1 and rank == 0:
            print(f'rank {r}: ' + ', '.join(f'{k} ({v if v in ("done", "skipped") else "failed"})'
                                             for k, v in part.items()))
    barrier()
    if rank != 0:
        return None
    summary = write_summary(paths, args.out, {k: v for k, v in merged.items() if v not in ('done', 'skipped')})
    failed = summary[summary['error'] != '']
    done = len(summary) - len(failed)
    print(f'{done} of {len(summary)} slides predicted; summary in {osp.join(args.out, "summary.csv")}')
    if len(failed):
        raise SlideError(f'{len(failed)} slide(s) failed: ' + '; '.join(failed['error'].astype(str)))
    return summary


if __name__ == '__main__':
    from mmmedfm.apis import SlideError
    try:
        main()
    except (SlideError, FileNotFoundError) as e:  # bad input: one message, no traceback
        sys.exit(f'predict_wsi: {e}')
