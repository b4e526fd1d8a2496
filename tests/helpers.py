"""Helpers shared by tests: run the CLI tools in-process."""
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# --cfg-options that switch off the evaluation figures of the demo configs' metrics (4 PNGs per evaluation,
# ~1 s): tests of something else set them (conftest's demo_cfg_options does); tests/test_evaluation checks them.
NO_FIGURES = {f'{split}_evaluator.{i}.save_figures': False for split in ('val', 'test') for i in (0, 1)}


def load_tool(rel_path: str):
    """Import ``tools/...py`` as a module (tools are scripts, not a package)."""
    path = osp.join(ROOT, rel_path)
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0] + '_tool', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cli_options(opts: dict):
    """``{'a.b': 1}`` -> ``['a.b=1']`` for ``--cfg-options``."""
    return [f'{k}={list(v) if isinstance(v, tuple) else v}'.replace(' ', '') for k, v in opts.items()]
