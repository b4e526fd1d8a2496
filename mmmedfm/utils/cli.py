"""Shared pieces of the tools (``train.py``, ``test.py``, the predict and analysis tools): MMPretrain's flags and
conventions."""
import argparse
import ast
import datetime
import numbers
import os
import os.path as osp
from typing import Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict, DictAction

from .dataloader import set_dataloader_defaults  # noqa: F401 (the tools import it from here)


class CfgOptionsAction(DictAction):
    """MMEngine's ``DictAction`` (``key=value`` pairs; ints, floats, ``true``/``false``, ``None`` and
    ``[a,b]``/``(a,b)``/``a,b`` lists are parsed) that keeps a plain value verbatim: MMEngine removes every space
    (``--cfg-options model.foundation_model="/data/my models/plip"`` became ``/data/mymodels/plip``). List
    literals are read with ``ast.literal_eval`` first, so quoted elements keep their spaces too
    (``key="['a b', 'c']"``).
    """

    @staticmethod
    def _parse_iterable(val: str):
        text = val.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in '\'"':
            text = text[1:-1]
        if text[:1] in ('[', '(') and text[-1:] in (']', ')'):
            try:
                value = ast.literal_eval(text)
                if isinstance(value, (list, tuple)):
                    return value
            except (ValueError, SyntaxError):
                pass
            return DictAction._parse_iterable(text)
        if ',' in text:
            return DictAction._parse_iterable(text)
        return DictAction._parse_int_float_bool(text)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='the dir to save logs, checkpoints and metrics')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings, e.g. model.foundation_model=/path/to/plip '
                        'train_dataloader.dataset.num_shots=4; lists as key="[a,b]"; values are kept verbatim')
    parser.add_argument('--no-pin-memory', action='store_true', help='disable pin_memory in dataloaders')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torchrun passes --local-rank (torch >= 2.0) or sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_model_args(parser: argparse.ArgumentParser, checkpoints: str = 'one',
                   overwrite_help: str = 'replace --out if it exists') -> None:
    """Arguments of the tools that run a trained model (predict, predict_wsi, calibrate, ensemble): ``config``,
    the checkpoint(s) (``checkpoints='one'`` or ``'many'``), ``--overwrite``, ``--batch-size``,
    ``--num-workers``, ``--device``, ``--cfg-options``. Pair with :func:`model_checkpoint`."""
    parser.add_argument('config', help='model config file')
    if checkpoints == 'many':
        parser.add_argument('checkpoints', nargs='+', help='two or more checkpoints of the config')
    else:
        parser.add_argument('checkpoint', help="checkpoint file, or 'none' for the zero-shot model")
    parser.add_argument('--overwrite', action='store_true', help=overwrite_help)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--device', help='e.g. cuda:0 or cpu (default: cuda if available)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, help='override config settings')


def model_checkpoint(config: str, checkpoint: str) -> Optional[str]:
    """The checkpoint path of :func:`add_model_args`, None for ``'none'`` (the zero-shot model); raises
    ``FileNotFoundError`` naming a missing config or checkpoint, before anything is built."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'Config file not found: {config}')
    if checkpoint.lower() == 'none':
        return None
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'Checkpoint not found: {checkpoint}')
    return checkpoint


def add_encode_args(parser: argparse.ArgumentParser, device_help: str) -> None:
    """``--batch-size`` (64), ``--device``, ``--no-progress``, ``--cfg-options`` of the feature-extraction tools."""
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--device', default=None, help=device_help)
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction, help='override config keys')


def _check_type(key: str, old, new) -> None:
    """A number or a bool in the config takes a value of the same kind (ints and floats mix)."""
    if old is None or new is None:
        return
    if isinstance(old, bool):
        expected, ok = 'bool (true/false)', isinstance(new, bool)
    elif isinstance(old, numbers.Number):
        expected = 'int' if isinstance(old, numbers.Integral) else 'float'
        ok = isinstance(new, numbers.Number) and not isinstance(new, bool)
    else:
        return
    if not ok:
        raise TypeError(f'--cfg-options {key}={new!r}: expected {expected} (the config has {key}={old!r}).')


def check_cfg_options(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` keys whose parent does not exist in the config (a typo would otherwise be
    silently added as a new, unused key), and values of the wrong kind for a number/bool setting
    (``lr=fast``, ``max_epochs=two``), naming the expected type."""
    root = cfg.to_dict()
    for key, value in options.items():
        parts = key.split('.')
        node = root
        for i, part in enumerate(parts):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            elif i == len(parts) - 1:
                break  # a new leaf under an existing parent
            else:
                raise KeyError(f'--cfg-options {key}: the config has no key {".".join(parts[:i + 1])!r}.')
        else:
            _check_type(key, node, value)


def read_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file and apply ``--cfg-options`` (refusing keys whose parent does not exist).

    Every tool reads its config through this, so a typo in an override fails the same way everywhere.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
        link_unimodal(cfg, cfg_options)
    adopt_mmpretrain_model(cfg)
    from mmmedfm.datasets.decoded_dataset import share_model_resize
    share_model_resize(cfg)  # decoded-image caches store images at the model's input size
    return cfg


def adopt_mmpretrain_model(cfg: Config) -> None:
    """Build a model inherited from an ``mmpretrain::`` base in the ``mmmedfm`` scope.

    MMEngine tags a dict inherited from another package's base with ``_scope_`` (``model._scope_='mmpretrain'``),
    which would build mmpretrain's ``ImageClassifier`` and reject ``backbone.peft``. Our registries are children
    of mmpretrain's (every mmpretrain type still resolves), so with ``default_scope='mmmedfm'`` the tag is
    switched to ours: the only difference is that ``backbone.peft=[...]`` is applied.
    """
    model = cfg.get('model')
    if cfg.get('default_scope') == 'mmmedfm' and isinstance(model, dict) and model.get('_scope_') == 'mmpretrain':
        model['_scope_'] = 'mmmedfm'


def link_unimodal(cfg: Config, options: dict) -> None:
    """Adaptor configs copy the top-level ``unimodal`` (frozen encoders) into every dataset when the file is
    parsed; an override of ``unimodal.*`` (``unimodal.vision.pretrained=DIR``) must reach those copies too."""
    for key, value in options.items():
        if not key.startswith('unimodal.'):
            continue
        for split in ('train', 'val', 'test'):
            dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
            if dataset.get('unimodal') is not None:
                cfg.merge_from_dict({f'{split}_dataloader.dataset.{key}': value})


def vis_backends_by_name(cfg: Config) -> None:
    """Let ``--cfg-options "visualizer.vis_backends=[LocalVisBackend,TensorboardVisBackend]"`` name the
    experiment trackers (``--cfg-options`` cannot write dicts inside a list): names become ``dict(type=name)``."""
    vis = cfg.get('visualizer')
    backends = vis.get('vis_backends') if isinstance(vis, dict) else None
    if isinstance(backends, (list, tuple)):
        vis['vis_backends'] = [dict(type=b) if isinstance(b, str) else b for b in backends]


def load_config(args: argparse.Namespace) -> Config:
    """Read the config, apply ``--cfg-options`` and the work dir / launcher flags."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = read_config(args.config, args.cfg_options)
    vis_backends_by_name(cfg)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if not torch.cuda.is_available():
        # NCCL needs GPUs; gloo runs the same DDP code on CPU.
        cfg.setdefault('env_cfg', ConfigDict()).setdefault('dist_cfg', ConfigDict())['backend'] = 'gloo'
        setup_cpu_distributed(cfg)
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Make a ``--launcher pytorch`` run work without CUDA, through public APIs only.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and its default DDP wrapper passes
    ``device_ids=[LOCAL_RANK]``; both fail on CPU. So on a CPU-only machine the tool initialises the gloo
    process group itself (the Runner then skips ``init_dist``) and asks for a CPU DDP wrapper
    (``model_wrapper_cfg`` with ``device_ids=None``). No-op for ``launcher='none'`` or with CUDA.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} without CUDA is not supported; use torchrun '
                           '(tools/dist_train.sh) with --launcher pytorch.')
    if not dist.is_initialized():
        kwargs = {k: v for k, v in cfg.get('env_cfg', {}).get('dist_cfg', {}).items() if k != 'backend'}
        if isinstance(kwargs.get('timeout'), (int, float)):  # seconds, as MMEngine's init_dist takes it
            kwargs['timeout'] = datetime.timedelta(seconds=kwargs['timeout'])
        dist.init_process_group(backend='gloo', **kwargs)
    cfg.setdefault('model_wrapper_cfg', ConfigDict(
        type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False)))


def amp_dtype() -> str:
    """bf16 where the device supports it (no loss scaling needed; the only CPU autocast dtype), else fp16."""
    return 'bfloat16' if not torch.cuda.is_available() or torch.cuda.is_bf16_supported() else 'float16'


def as_config(cfg) -> Config:
    """A ``Config`` from a config or a config path (read with :func:`read_config`)."""
    return read_config(cfg) if isinstance(cfg, str) else cfg


def set_eval_amp(cfg: Config, loop: str) -> None:
    """Mixed-precision evaluation for ``cfg[loop]`` (``val_cfg``/``test_cfg``): MMEngine's loops autocast with
    the default CUDA autocast dtype, which is set to bf16 where supported (no fp16 overflow in logits)."""
    if cfg.get(loop) is None:
        return
    cfg[loop].fp16 = True
    if torch.cuda.is_available() and amp_dtype() == 'bfloat16':  # CPU autocast is bf16 already
        torch.set_autocast_dtype('cuda', torch.bfloat16)


def init_launcher(launcher: str) -> Tuple[int, int]:
    """``(rank, world_size)`` of a tool that runs without a Runner, after setting up ``launcher``.

    With CUDA: MMEngine's ``init_dist`` (NCCL); without: the gloo process group (:func:`setup_cpu_distributed`).
    """
    from mmengine.dist import get_dist_info, init_dist
    if launcher != 'none':
        if torch.cuda.is_available():
            init_dist(launcher, backend='nccl')
        else:
            setup_cpu_distributed(ConfigDict(launcher=launcher))
    return get_dist_info()


def run_cli(main, argv=None) -> None:
    """Run a tool's ``main``: an error prints as one message (exit code 1), its traceback goes to the run's log
    file when there is one; ``MMMEDFM_DEBUG=1`` lets the exception propagate (full traceback on screen)."""
    import sys
    import traceback
    if os.environ.get('MMMEDFM_DEBUG'):
        main(argv)
        return
    try:
        main(argv)
    except Exception as e:  # noqa: BLE001 - every error becomes one message; KeyboardInterrupt is not caught
        where = _log_traceback(traceback.format_exc())
        text = e.args[0] if isinstance(e, KeyError) and len(e.args) == 1 else str(e)
        hint = f'traceback in {where}' if where else 'MMMEDFM_DEBUG=1 shows the traceback'
        sys.exit(f'Error ({type(e).__name__}): {text}\n({hint})')


def _log_traceback(text: str) -> Optional[str]:
    """Append ``text`` to the current MMEngine logger's log file; returns its path (``None`` without one)."""
    import logging
    from mmengine.logging import MMLogger
    if not MMLogger._instance_dict:
        return None
    for handler in MMLogger.get_current_instance().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.stream.write(text)
            handler.flush()
            return handler.baseFilename
    return None
