"""Evaluate a trained Adaptor: retrieval R@1/5/10 on held-out WSIs, zero-shot, few-shot linear probes.

    python tools/analysis/eval_adaptor.py CONFIG CHECKPOINT [--shots 1 4 16] [--seeds 0 1 2]

Retrieval is at slide-caption level (PatchGastric has one caption per WSI; a slide's embedding is the mean of
its patch embeddings) plus patch -> caption. Zero-shot: class-name prompts through the frozen text encoder and
the adaptor's text branch. Few-shot: LinearProbe on adapted vs raw frozen image features (balanced accuracy).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmedfm.utils.cli import CfgOptionsAction, read_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate an AdaptorVL checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None, help='omit to evaluate the untrained adaptor')
    parser.add_argument('--shots', type=int, nargs='+', default=None)
    parser.add_argument('--seeds', type=int, nargs='+', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    return parser.parse_args(argv)


def format_table(res: dict) -> str:
    lines = ['| retrieval (held-out WSIs) | R@1 | R@5 | R@10 |', '|---|---|---|---|']
    r = res['retrieval']
    for key, name in (('i2t', 'slide -> caption'), ('t2i', 'caption -> slide'), ('patch_i2t', 'patch -> caption')):
        lines.append(f'| {name} | ' + ' | '.join(f'{r[f"{key}_R@{k}"]:.1f}' for k in (1, 5, 10)) + ' |')
    lines.append(f'\n{int(r["num_captions"])} held-out captions (chance R@1 {r["chance_R@1"]:.1f}%)\n')
    z = res['zero_shot']
    lines += ['| zero-shot | accuracy | balanced acc. | macro F1 |', '|---|---|---|---|',
              f'| adaptor text branch | {100 * z["accuracy"]:.1f} | {100 * z["balanced_accuracy"]:.1f} | '
              f'{100 * z["macro_f1"]:.1f} |', '', '| few-shot linear probe (balanced acc.) | ' +
              ' | '.join(f'{k}-shot' for k in sorted({k for _, k in res['few_shot']})) + ' |']
    shots = sorted({k for _, k in res['few_shot']})
    lines.append('|---' * (len(shots) + 1) + '|')
    for name in ('raw', 'adapted'):
        lines.append(f'| {name} features | ' + ' | '.join(
            f'{100 * res["few_shot"][(name, k)]["balanced_accuracy"]:.1f}' for k in shots) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    from mmmedfm.apis.adaptor import evaluate_adaptor
    args = parse_args(argv)
    cfg = read_config(args.config, args.cfg_options)
    ev = cfg.get('evaluation', {}) or {}
    res = evaluate_adaptor(cfg, args.checkpoint, shots=args.shots or ev.get('shots', (1, 4, 16)),
                           seeds=args.seeds or ev.get('seeds', (0, 1, 2)))
    print(format_table(res))
    return res


if __name__ == '__main__':
    main()
