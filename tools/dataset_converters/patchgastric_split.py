"""Write PatchGastric's WSI-level split (CITE protocol) to a CSV that `PatchGastricDataset(split_file=...)` reads.

Per class, `--eval-ratio` of the WSIs (seed 0 as in CITE) are held out as `test` and the rest are the few-shot
pool `train`. `--mode cite` (default) draws exactly the slides CITE's `tools/ann.py` holds out; `--mode per_class`
draws each class on its own (sorted ids, independent of the captions.csv row order). One row per WSI of CITE's
three classes: `wsi_id, subtype, gt_label, split, num_patches`.

    python tools/dataset_converters/patchgastric_split.py data/PatchGastric
    # -> data/PatchGastric/splits/cite_eval0.8_seed0.csv   (--mode per_class: per_class_eval0.8_seed0.csv)
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmedfm.datasets.few_shot import SPLIT_MODES, split_wsis_per_class  # noqa: E402
from mmmedfm.datasets.patchgastric import group_patches, read_captions  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data_root', help='PatchGastric root (captions.csv, patches_captions/)')
    parser.add_argument('--ann-file', default='captions.csv', help='captions CSV relative to data_root')
    parser.add_argument('--img-dir', default='patches_captions', help='patch folder relative to data_root')
    parser.add_argument('--eval-ratio', type=float, default=0.8, help='held-out share of WSIs per class')
    parser.add_argument('--seed', type=int, default=0, help='split seed (CITE: 0)')
    parser.add_argument('--mode', choices=SPLIT_MODES, default='cite',
                        help="'cite': CITE's tools/ann.py draw (default); 'per_class': one seeded draw per class")
    parser.add_argument('--out', help='output CSV (default: DATA_ROOT/splits/{mode}_eval{ratio}_seed{seed}.csv)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing output file')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    out = args.out or osp.join(args.data_root, 'splits', f'{args.mode}_eval{args.eval_ratio:g}_seed{args.seed}.csv')
    if osp.exists(out) and not args.force:
        raise FileExistsError(f'{out} exists; pass --force to overwrite it.')
    captions = read_captions(osp.join(args.data_root, args.ann_file))
    split = split_wsis_per_class(dict(zip(captions['wsi_id'], captions['gt_label'])), args.eval_ratio, args.seed,
                                 args.mode)
    patches = group_patches(osp.join(args.data_root, args.img_dir), captions['wsi_id'])
    table = captions[['wsi_id', 'subtype', 'gt_label']].assign(
        split=captions['wsi_id'].map(split), num_patches=captions['wsi_id'].map(lambda w: len(patches.get(w, []))))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    table.sort_values(['split', 'gt_label', 'wsi_id']).to_csv(out, index=False)
    summary = table.groupby(['split', 'gt_label']).agg(wsis=('wsi_id', 'size'), patches=('num_patches', 'sum'))
    print(summary.to_string())
    print(f'split written to {out}')
    return out


if __name__ == '__main__':
    main()
