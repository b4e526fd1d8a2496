"""Predict class probabilities for images: one CSV row per image.

    python tools/predict.py CONFIG CHECKPOINT INPUT --out preds.csv

INPUT is an image, a folder (searched recursively) or a CSV/XLSX list with a path column (``path``,
``img_path``, ``image_path``, ``image``, ``filename``, ``file`` or ``image_name``; ``--path-column`` to choose)
and optionally a slide id column (``wsi_id``, ``slide_id``, ``slide``, ``wsi``). CHECKPOINT may hold only the
trainable parameters (PEFT), be a merged checkpoint (``MergeLoRAHook``) or ``none`` (the zero-shot model).
``--temperature cal.json`` applies the temperature fitted by ``tools/analysis/calibrate.py``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a source checkout too

from mmmedfm.apis import predict  # noqa: E402
from mmmedfm.evaluation import read_temperature  # noqa: E402
from mmmedfm.utils.cli import add_model_args, model_checkpoint  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Predict class probabilities for images')
    add_model_args(parser)
    parser.add_argument('input', help='image, folder, or CSV/XLSX list of images')
    parser.add_argument('--out', required=True, help='output CSV file')
    parser.add_argument('--path-column', help='image path column of a CSV/XLSX input')
    parser.add_argument('--slide-column', help='slide id column of a CSV/XLSX input')
    parser.add_argument('--img-root', help='folder that CSV/XLSX paths are relative to (default: its folder)')
    parser.add_argument('--temperature', help='temperature scaling: a number or the JSON written by '
                        'tools/analysis/calibrate.py --out')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    checkpoint = model_checkpoint(args.config, args.checkpoint)
    if osp.exists(args.out) and not args.overwrite:
        raise FileExistsError(f'{args.out} exists; pass --overwrite to replace it.')
    df = predict(args.config, checkpoint, args.input, batch_size=args.batch_size, device=args.device,
                 cfg_options=args.cfg_options, path_column=args.path_column, slide_column=args.slide_column,
                 img_root=args.img_root, num_workers=args.num_workers,
                 temperature=1. if args.temperature is None else read_temperature(args.temperature))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    df.to_csv(args.out, index=False)
    print(f'{len(df)} predictions written to {args.out}')
    return df


if __name__ == '__main__':
    from mmmedfm.utils.cli import run_cli
    run_cli(main)
