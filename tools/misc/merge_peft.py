"""Write a full checkpoint with the LoRA adapters merged into the base weights (plain backbone keys).

    python tools/misc/merge_peft.py CONFIG CKPT --out merged.pth [--cfg-options k=v ...]

The model is built from CONFIG (pretrained weights + PEFT layers), CKPT (usually trainable-only) is put on
top, LoRA is merged, and the state dict is saved without ``lora_`` keys or ``base_layer`` levels: it loads
into the same config with the LoRA entry removed from ``model.backbone.peft``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

from mmmedfm.models.peft.checkpoint import load_trainable, merged_state_dict, plain  # noqa: E402
from mmmedfm.registry import MODELS  # noqa: E402
from mmmedfm.utils.cli import CfgOptionsAction, read_config  # noqa: E402
from mmmedfm.utils import register_all_modules  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Merge LoRA adapters into a full checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='output .pth file')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, help='override config keys')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    if osp.abspath(args.out) == osp.abspath(args.checkpoint):
        raise ValueError(f'--out {args.out} would overwrite the input checkpoint')
    register_all_modules()
    cfg = read_config(args.config, args.cfg_options)
    # Seed as the Runner does before it builds the model: a backbone without pretrained weights (a random
    # init, e.g. the demo's) then gets the same frozen weights as in training.
    from mmengine.runner import set_random_seed
    randomness = dict(cfg.get('randomness') or {})
    if randomness.get('seed') is not None:
        set_random_seed(randomness['seed'], deterministic=randomness.get('deterministic', False))
    model = MODELS.build(cfg.model)
    ckpt, _ = load_trainable(model, args.checkpoint)
    state = merged_state_dict(model)
    meta = dict(ckpt.get('meta', {}).get('mmmedfm_base', {}), merged=True, merged_from=args.checkpoint)
    torch.save(dict(meta=dict(mmmedfm_base=plain(meta)), state_dict=state), args.out)
    print(f'Merged checkpoint ({len(state)} tensors) written to {args.out}')
    return args.out


if __name__ == '__main__':
    from mmmedfm.utils.cli import run_cli
    run_cli(main)
