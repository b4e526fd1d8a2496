"""docs/tutorial.py runs end to end (fast mode) and opens as a notebook through jupytext."""
import os
import runpy
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
def test_tutorial_runs(tmp_path, demo_assets, monkeypatch, capsys):
    """The script as ``python docs/tutorial.py`` runs it (``__main__``), in this process: the interpreter start
    and imports are the test process's own."""
    monkeypatch.setenv('TUTORIAL_FAST', '1')
    monkeypatch.setenv('TUTORIAL_WORK_DIR', str(tmp_path))
    monkeypatch.chdir(ROOT)  # the tutorial changes into the repository root itself; restored afterwards
    monkeypatch.setattr(sys, 'path', list(sys.path))
    runpy.run_path(TUTORIAL, run_name='__main__')
    out = capsys.readouterr().out
    for name in ('adapters_vs_shots.png', 'lora_confusion_matrix.png', 'lora_reliability.png'):
        assert (tmp_path / name).stat().st_size > 5_000
    assert 'LoRA (2 epochs) balanced accuracy' in out and 'CLAP' in out
