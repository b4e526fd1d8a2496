"""Check the datasets of a config: per-split/per-class image and WSI counts, missing or unreadable images,
label problems, slides shared between splits. Exits 1 when an error was found (0 otherwise).

    python tools/dataset_converters/check_dataset.py configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py
    python tools/dataset_converters/check_dataset.py CONFIG --cfg-options train_dataloader.dataset.num_shots=4

The train split is built as configured, so its counts are those of the few-shot support.
"""
import argparse
import os.path as osp
import sys
from copy import deepcopy

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from mmmedfm.utils.cli import CfgOptionsAction, read_config  # noqa: E402


SPLITS = ('train', 'val', 'test')
FEW_SHOT_KEYS = ('num_shots', 'shot_seed', 'num_wsis', 'wsi_selection', 'wsi_seed')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, help='override config settings')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS), choices=SPLITS, help='splits to check')
    parser.add_argument('--no-read', action='store_true',
                        help='only check that image files exist (skip decoding them; faster on big datasets)')
    return parser.parse_args(argv)


def unreadable(path: str) -> str:
    """'' if ``path`` decodes as an image, else the reason."""
    try:
        with Image.open(path) as img:
            img.load()
    except Exception as e:  # any decoder error means the training loader would fail on this file
        return f'{type(e).__name__}: {e}'
    return ''


def check_split(name: str, dataset, read: bool) -> tuple:
    """Print one split's report; return ``(errors, table of path/label/wsi)``."""
    errors = []
    classes = list(dataset.metainfo.get('classes') or [])
    rows = [dataset.get_data_info(i) for i in range(len(dataset))]
    table = pd.DataFrame(dict(path=[r.get('img_path') for r in rows], label=[r.get('gt_label') for r in rows],
                              wsi=[r.get('wsi_id') for r in rows]))
    keys = (FEW_SHOT_KEYS[:2] if getattr(dataset, 'num_shots', None) else ()) + \
        (FEW_SHOT_KEYS[2:] if getattr(dataset, 'num_wsis', None) else ())
    few_shot = {k: getattr(dataset, k) for k in keys}
    sampled = bool(few_shot)
    print(f'\n[{name}] {type(dataset).__name__}: {len(table)} images, {table["wsi"].nunique()} WSIs'
          + (f' (few-shot support: {few_shot})' if sampled else ''))
    counts = table.groupby('label').agg(images=('path', 'size'), wsis=('wsi', 'nunique'))
    counts = counts.reindex(range(len(classes)), fill_value=0) if classes else counts
    counts.insert(0, 'class', [classes[i] if 0 <= i < len(classes) else '?' for i in counts.index])
    print(counts.to_string())
    bad_labels = table[~table['label'].isin(range(len(classes)))] if classes else table[table['label'].isna()]
    if len(bad_labels):
        errors.append(f'{len(bad_labels)} images with a label outside 0..{len(classes) - 1}, e.g. '
                      f'{bad_labels.iloc[0].to_dict()}')
    empty = [classes[i] for i in range(len(classes)) if counts.loc[i, 'images'] == 0]
    if empty:
        errors.append(f'classes without images: {empty}')
    missing = [p for p in table['path'] if not osp.isfile(p)]
    if missing:
        errors.append(f'{len(missing)} missing image files, e.g. {missing[:3]}')
    if read:
        broken = [(p, why) for p in table['path'] if osp.isfile(p) for why in [unreadable(p)] if why]
        if broken:
            errors.append(f'{len(broken)} unreadable image files, e.g. {broken[:3]}')
    no_wsi = int(table['wsi'].isna().sum())
    if no_wsi:
        print(f'  note: {no_wsi} images have no WSI id (per-WSI sampling/metrics unavailable)')
    for e in errors:
        print(f'  ERROR: {e}')
    return errors, table


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmmedfm.registry import DATASETS
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    n_errors, tables, seen = 0, {}, {}
    for split in args.splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            print(f'\n[{split}] not configured')
            continue
        ds_cfg = deepcopy(loader['dataset']).to_dict()
        same = next((s for s, c in seen.items() if c == ds_cfg), None)
        if same:
            print(f'\n[{split}] same dataset as [{same}]')
            continue
        seen[split] = deepcopy(ds_cfg)
        ds_cfg['pipeline'] = []  # only the annotations are checked; no transform runs
        try:
            dataset = DATASETS.build(ds_cfg)
        except Exception as e:  # report every split, even after one fails to build
            print(f'\n[{split}] ERROR: cannot build {ds_cfg.get("type")}: {type(e).__name__}: {e}')
            n_errors += 1
            continue
        errors, tables[split] = check_split(split, dataset, read=not args.no_read)
        n_errors += len(errors)
    if 'train' in tables:
        train_wsis = set(tables['train']['wsi'].dropna())
        for split, table in tables.items():
            shared = sorted(train_wsis & set(table['wsi'].dropna())) if split != 'train' else []
            if shared:
                print(f'\nWARNING: {len(shared)} WSIs are in both train and {split} (slide leakage), '
                      f'e.g. {shared[:3]}')
    print(f'\n{n_errors} error(s)')
    return 1 if n_errors else 0


if __name__ == '__main__':
    sys.exit(main())
