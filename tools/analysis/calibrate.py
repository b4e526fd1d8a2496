"""Post-hoc temperature scaling: fit T on the validation split, report calibration before/after on the test split.

    python tools/analysis/calibrate.py CONFIG CHECKPOINT [--calib-ann-file FILE] [--out calibration.json]

T minimises the NLL of ``softmax(logits / T)`` on the calibration (validation) split (L-BFGS); accuracy is
unchanged, ECE/NLL/Brier usually drop. If the config's val and test datasets are the same (as in the SICAPv2
few-shot config, which has no separate validation split) the tool warns: give a held-out split with
``--calib-ann-file`` (SICAPv2: ``partition/Validation/Val1/Test.xlsx``, a fold of the official training set).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


from mmmedfm.apis import infer_split, init_model  # noqa: E402
from mmmedfm.evaluation import apply_temperature, classification_metrics, fit_temperature  # noqa: E402
from mmmedfm.evaluation.functional import as_percent  # noqa: E402
from mmmedfm.evaluation.plots import save_reliability_comparison  # noqa: E402
from mmmedfm.utils.cli import add_model_args, model_checkpoint  # noqa: E402

REPORTED = ('accuracy', 'balanced_accuracy', 'ece', 'nll', 'brier')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Fit temperature scaling on val, report ECE/NLL on test')
    add_model_args(parser)
    parser.add_argument('--calib-ann-file', help='annotation file of the calibration split (replaces '
                        "val_dataloader.dataset.ann_file)")
    parser.add_argument('--out', help='write the temperature and metrics to this JSON file')
    parser.add_argument('--plot', help='before/after reliability diagram (PNG); default: next to --out '
                        '(<out>_reliability.png)')
    return parser.parse_args(argv)


def _same_data(cfg, calib_ann_file) -> bool:
    val, test = cfg.val_dataloader.dataset, cfg.test_dataloader.dataset
    return (calib_ann_file or val.get('ann_file')) == test.get('ann_file') and \
        val.get('data_root') == test.get('data_root')


def main(argv=None):
    args = parse_args(argv)
    ckpt = model_checkpoint(args.config, args.checkpoint)
    if args.out and osp.exists(args.out) and not args.overwrite:
        raise FileExistsError(f'{args.out} exists; pass --overwrite to replace it.')
    model = init_model(args.config, ckpt, args.device, args.cfg_options)
    if _same_data(model.cfg, args.calib_ann_file):
        print('WARNING: the calibration (val) and test datasets are the same; the "after" numbers are '
              'optimistic. Pass --calib-ann-file with a held-out split.', file=sys.stderr)
    val_logits, val_y, _ = infer_split(model, 'val', args.batch_size, args.num_workers, args.calib_ann_file)
    test_logits, test_y, _ = infer_split(model, 'test', args.batch_size, args.num_workers)
    temperature = fit_temperature(val_logits, val_y)
    num_classes = test_logits.shape[1]
    before = as_percent(classification_metrics(test_y, apply_temperature(test_logits, 1.), num_classes))
    after = as_percent(classification_metrics(test_y, apply_temperature(test_logits, temperature), num_classes))
    print(f'temperature T = {temperature:.4f} (fitted on {len(val_y)} calibration images; '
          f'test: {len(test_y)} images)')
    print(f'{"metric":<20}{"before":>10}{"after":>10}')
    for key in REPORTED:
        print(f'{key:<20}{before[key]:>10.4f}{after[key]:>10.4f}')
    result = dict(temperature=temperature, num_calib=int(len(val_y)), num_test=int(len(test_y)),
                  before=before, after=after)
    plot = args.plot or (osp.splitext(args.out)[0] + '_reliability.png' if args.out else None)
    if plot:
        save_reliability_comparison({'before (T = 1)': apply_temperature(test_logits, 1.),
                                     f'after (T = {temperature:.3f})': apply_temperature(test_logits, temperature)},
                                    test_y, plot)
        print(f'reliability diagrams (test split, before/after): {plot}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'apply it: tools/test.py CONFIG CKPT --temperature {args.out} (or tools/predict.py ... '
              f'--temperature {args.out})')
    return dict(result, plot=plot)


if __name__ == '__main__':
    main()
