"""Training cells of a sweep in the calling process: ``tools/train.py``'s ``main`` per cell, weights loaded once.

A cell is the argument list a ``tools/train.py`` subprocess would get. Running it here skips the interpreter and
library start-up of a new process, reuses the pretrained towers loaded by an earlier cell
(:func:`mmmedfm.models.utils.load_memo.reuse_loaded_models`: pristine base weights restored by deep copy,
adapters freshly initialised by the cell's own seed) and the decoded-image caches opened earlier. The numbers
equal a separate run's: the Runner seeds everything from the cell's config as a fresh process does, and a
load that draws random numbers is repeated rather than reused.
"""
import contextlib
import gc
import importlib.util
import os.path as osp
import sys
from typing import List, Optional

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _train_tool():
    """``tools/train.py`` as a module (loaded once)."""
    name = 'mmmedfm_tools_train'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, 'tools', 'train.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def experiment_name_option(name: str) -> List[str]:
    """``--cfg-options`` entry giving the run a unique MMEngine experiment name (logger, visualizer and scope
    instances are looked up by name; two runs started in the same second would otherwise share them)."""
    return [f'experiment_name={name}']


def run_train_in_process(argv: List[str], log_file: str, name: str, gpu: Optional[int] = None) -> None:
    """Run ``tools/train.py <argv>`` here, with stdout/stderr appended to ``log_file``.

    Args:
        argv: The arguments after ``tools/train.py`` (config, ``--work-dir``, ``--cfg-options`` ...).
        log_file: Where the run's console output goes.
        name: Unique experiment name of this run (a sweep's cell id).
        gpu: CUDA device index to run on (``torch.cuda.set_device``); None keeps the current one.

    Raises:
        RuntimeError: The run failed; the message names the log file (the traceback is in it).
    """
    from mmmedfm.models.utils.load_memo import reuse_loaded_models
    argv = list(argv)
    if '--cfg-options' in argv:
        argv[argv.index('--cfg-options') + 1:argv.index('--cfg-options') + 1] = experiment_name_option(name)
    else:
        argv += ['--cfg-options'] + experiment_name_option(name)
    if gpu is not None and torch.cuda.is_available():
        torch.cuda.set_device(int(gpu))
    runner = None
    with open(log_file, 'a') as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            with reuse_loaded_models():
                runner = _train_tool().main(argv)
        except (Exception, SystemExit) as e:  # argparse exits; keep the sweep going to its error message
            import traceback
            traceback.print_exc(file=log)
            raise RuntimeError(f'Training cell {name} failed ({e.__class__.__name__}: {e}); see {log_file}') from None
        finally:
            _release(runner, log)


def _release(runner, log) -> None:
    """Detach log handlers writing to ``log`` or to the run's files, and free the model (the next cell
    builds its own)."""
    import logging

    from mmengine.logging import MMLogger
    for logger in list(MMLogger._instance_dict.values()):
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler) and runner is not None and logger is runner.logger:
                handler.close()
                logger.removeHandler(handler)
            elif isinstance(handler, logging.StreamHandler) and getattr(handler, 'stream', None) is log:
                handler.setStream(sys.__stdout__)
    del runner
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
