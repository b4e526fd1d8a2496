"""The screen gets one line for the config / environment dumps and none for MMEngine's per-epoch notices; the log
file keeps every record; a tool error prints as one message with the traceback in the log file."""
import io
import logging

import pytest

from mmmedfm.engine.runner import ScreenSummaryFilter
from mmmedfm.utils.cli import run_cli

ENV = ('\n' + '-' * 60 + '\nSystem environment:\n    sys.platform: linux\n    PyTorch: 2\n\nRuntime environment:\n'
       '    seed: 7\n    Distributed launcher: pytorch\n    Distributed training: True\n    GPU number: 2\n')


def _logger(tmp_path):
    logger = logging.getLogger(f'screen-test-{tmp_path.name}')
    logger.setLevel(logging.INFO)
    screen, file = io.StringIO(), logging.FileHandler(tmp_path / 'run.log')
    console = logging.StreamHandler(screen)
    console.addFilter(ScreenSummaryFilter(console, str(tmp_path / 'run.log')))
    logger.addHandler(console)
    logger.addHandler(file)
    return logger, screen, file


def test_screen_summary_and_full_log_file(tmp_path):
    logger, screen, file = _logger(tmp_path)
    config = 'Config:\n' + '\n'.join(f'key_{i} = {i}' for i in range(300))
    for msg in (ENV, config, 'Hooks will be executed in the following order:\nbefore_run:\n(VERY_HIGH) X',
                'Saving checkpoint at 3 epochs', 'Epoch(val) [3][2/2]    cls/accuracy: 25.0000'):
        logger.info(msg)
    file.flush()
    assert screen.getvalue().splitlines() == [
        'Runtime: seed: 7, Distributed launcher: pytorch, Distributed training: True, GPU number: 2',
        f'Config and hooks: see {tmp_path / "run.log"}', 'Epoch(val) [3][2/2]    cls/accuracy: 25.0000']
    text = (tmp_path / 'run.log').read_text()
    assert 'key_299 = 299' in text and 'System environment:' in text and 'Saving checkpoint at 3' in text
    assert 'Hooks will be executed' in text and len(text.splitlines()) == (len(ENV.splitlines()) + 1) + 301 + 3 + 1 + 1  # ENV ends in a newline


def test_tool_error_is_one_message(capsys, monkeypatch):
    monkeypatch.delenv('MMMEDFM_DEBUG', raising=False)

    def main(argv):
        raise KeyError('--cfg-options model.hed: the config has no key \'model.hed\'.')
    with pytest.raises(SystemExit) as exc:
        run_cli(main)
    message = str(exc.value.code)
    assert message.splitlines()[0] == "Error (KeyError): --cfg-options model.hed: the config has no key 'model.hed'."
    assert 'Traceback' not in message and len(message.splitlines()) == 2
    monkeypatch.setenv('MMMEDFM_DEBUG', '1')
    with pytest.raises(KeyError):
        run_cli(main)
