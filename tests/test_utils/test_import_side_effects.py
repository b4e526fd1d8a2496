"""``import mmmedfm`` (and registering its modules) changes no attribute of another library except the one
documented safe-loading replacement (``mmengine.runner.checkpoint._safe_torch_load``)."""
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

# The child imports the third-party modules first (those this test process has loaded: the session fixture
# imported mmmedfm and registered its modules, so a superset of what mmmedfm pulls in), snapshots every module
# attribute and every class attribute of the classes they define, then imports mmmedfm and diffs.
TEST_RUNNER = ('mmmedfm', 'tests', '__main__', '__mp_main__', '_pytest', 'pytest', 'pluggy', 'xdist', 'execnet',
               'iniconfig', 'pytest_timeout')
DIFF = '''
import importlib, inspect, json, sys, types
for name in json.loads(sys.stdin.read()):
    try:
        importlib.import_module(name)
    except Exception:
        pass

def snapshot():
    out = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith(("mmmedfm", "tests", "__main__", "__mp_main__")) or not isinstance(mod, types.ModuleType):
            continue
        try:
            attrs = dict(vars(mod))
        except TypeError:
            continue
        for key, value in attrs.items():
            if key == "__warningregistry__":  # the warnings module's bookkeeping, not a patch
                continue
            out[(name, key)] = id(value)
            if inspect.isclass(value) and getattr(value, "__module__", None) == name:
                for ckey, cvalue in list(vars(value).items()):
                    out[(name, key + "." + ckey)] = id(cvalue)
    return out

first = snapshot()
import mmmedfm
from mmmedfm.utils import register_all_modules
register_all_modules()
second = snapshot()
changed = sorted(".".join(k) for k in first if k in second and first[k] != second[k])
removed = sorted(".".join(k) for k in first if k not in second)
added = sorted(".".join(k) for k in second if k not in first and k[0] in {n for n, _ in first}
               and not isinstance(getattr(sys.modules[k[0]], k[1].split(".")[0], None), types.ModuleType))
print(json.dumps(dict(changed=changed, removed=removed, added=added)))
'''


@pytest.mark.slow
def test_import_patches_only_the_safe_loader():
    modules = json.dumps(sorted(m for m in sys.modules if m.split('.')[0] not in TEST_RUNNER))
    diff = subprocess.run([sys.executable, '-c', DIFF], input=modules, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert diff.returncode == 0, diff.stderr[-3000:]
    result = json.loads(diff.stdout.strip().splitlines()[-1])
    assert result == dict(changed=['mmengine.runner.checkpoint._safe_torch_load'], removed=[], added=[]), result
