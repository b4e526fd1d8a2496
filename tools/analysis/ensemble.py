"""Seed ensemble: average the class probabilities of several checkpoints of one config on its test split.

    python tools/analysis/ensemble.py CONFIG CKPT1 CKPT2 [...] [--out ensemble.csv]

Prints patch-level (and, when samples carry ``wsi_id``, slide-level mean-probability) metrics of every member
and of the ensemble. ``--out`` writes one row per test image: ensemble probabilities, prediction and
``spread`` (std across members of the predicted class's probability: member disagreement, an uncertainty
score).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from mmmedfm.apis import class_names_of, infer_split, init_model  # noqa: E402
from mmmedfm.evaluation import aggregate_by_group, average_probabilities, classification_metrics  # noqa: E402
from mmmedfm.evaluation.functional import as_percent  # noqa: E402
from mmmedfm.utils.cli import add_model_args, model_checkpoint  # noqa: E402

REPORTED = ('accuracy', 'balanced_accuracy', 'macro_f1', 'kappa_quadratic', 'auroc_macro', 'ece', 'nll')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Average the probabilities of several checkpoints')
    add_model_args(parser, checkpoints='many')
    parser.add_argument('--split', default='test', choices=['val', 'test'])
    parser.add_argument('--out', help='per-image ensemble predictions (CSV)')
    return parser.parse_args(argv)


def member_names(paths):
    """Row name per checkpoint: the shortest trailing part of its path that tells it apart from the others
    (``seed0/epoch_20.pth`` and ``seed1/epoch_20.pth``, not two ``epoch_20.pth``)."""
    full = [osp.normpath(osp.abspath(p)) for p in paths]
    if len(set(full)) != len(full):
        dup = next(p for p, f in zip(paths, full) if full.count(f) > 1)
        raise ValueError(f'Checkpoint {dup} is listed twice: an ensemble of one model with itself.')
    parts = [f.split(os.sep) for f in full]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ['/'.join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return full


def _metrics(y, probs, groups):
    """Patch (and slide) metrics; rates in % as in the logs."""
    out = classification_metrics(y, probs)
    if groups is not None:
        probs_g, y_g, _ = aggregate_by_group(probs, y, groups, 'mean')
        out.update({f'wsi_{k}': v for k, v in classification_metrics(y_g, probs_g, probs.shape[1]).items()
                    if k in ('accuracy', 'balanced_accuracy')})
    return as_percent(out)


def main(argv=None):
    args = parse_args(argv)
    if args.out and osp.exists(args.out) and not args.overwrite:
        raise FileExistsError(f'{args.out} exists; pass --overwrite to replace it.')
    for ckpt in args.checkpoints:  # members are trained checkpoints ('none' is not one)
        if model_checkpoint(args.config, ckpt) is None:
            raise FileNotFoundError(f'Checkpoint not found: {ckpt}')
    member_names(args.checkpoints)  # refuse duplicates before the slow part
    members, y, metas, names = [], None, None, None
    for ckpt in args.checkpoints:
        model = init_model(args.config, ckpt, args.device, args.cfg_options)
        logits, y, metas = infer_split(model, args.split, args.batch_size, args.num_workers)
        members.append(torch.from_numpy(logits).softmax(-1).numpy())
        names = class_names_of(model)
        del model
    mean, spread = average_probabilities(members)
    groups = np.array([m['wsi_id'] for m in metas]) if metas and all('wsi_id' in m for m in metas) else None
    rows = {name: _metrics(y, p, groups) for name, p in zip(member_names(args.checkpoints), members)}
    rows['ensemble'] = _metrics(y, mean, groups)
    table = pd.DataFrame(rows).T
    cols = [c for c in (*REPORTED, 'wsi_accuracy', 'wsi_balanced_accuracy') if c in table.columns]
    print(table[cols].to_string(float_format=lambda v: f'{v:.4f}'))
    if args.out:
        df = pd.DataFrame(dict(path=[m.get('img_path') for m in metas]))
        if groups is not None:
            df['wsi_id'] = groups
        df['gt_label'], df['pred_label'], df['spread'] = y, mean.argmax(1), spread
        for j, name in enumerate(names):
            df[f'prob_{name}'] = mean[:, j]
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        df.to_csv(args.out, index=False)
    return dict(members=members, mean=mean, spread=spread, labels=y, table=table)


if __name__ == '__main__':
    main()
