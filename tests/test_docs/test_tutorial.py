"""docs/tutorial.py runs end to end (fast mode) and opens as a notebook through jupytext."""
import os
import subprocess
import sys

import jupytext
import nbformat
import pytest

from tests.helpers import ROOT

TUTORIAL = os.path.join(ROOT, 'docs', 'tutorial.py')


def test_tutorial_is_a_percent_notebook():
    nb = jupytext.read(TUTORIAL)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count('markdown') >= 5 and kinds.count('code') >= 5
    titles = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == 'markdown']
    assert [t for t in titles if t.startswith('## ')][:4] == [
        '## 1. Zero-shot: prompts in, classifier out', '## 2. Black-box adapters on cached features',
        '## 3. LoRA: fine-tune the image tower', '## 4. Evaluation: metrics, confusion matrix, calibration']


@pytest.mark.e2e
def test_tutorial_runs(tmp_path, demo_assets):
    env = dict(os.environ, TUTORIAL_FAST='1', TUTORIAL_WORK_DIR=str(tmp_path), PYTHONPATH=ROOT,
               OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    out = subprocess.run([sys.executable, TUTORIAL], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    for name in ('adapters_vs_shots.png', 'lora_confusion_matrix.png', 'lora_reliability.png'):
        assert (tmp_path / name).stat().st_size > 5_000
    assert 'LoRA (2 epochs) balanced accuracy' in out.stdout and 'CLAP' in out.stdout
