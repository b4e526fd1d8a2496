#!/usr/bin/env bash
# Build/download, HERE (with network), the pure-Python wheels a bare GPU machine lacks (it has torch CUDA,
# transformers, peft, timm, opencv, pandas, but no OpenMMLab packages and no network) into .whl/ (gitignored).
# tools/analysis/gpu_benchmark.sh installs them there with `pip install --no-index --no-deps --target`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/work/main/.venv/bin/python}
mkdir -p .whl
$PY -m pip wheel -q --no-deps -w .whl onedl-mmengine==0.10.12 onedl-mmcv==2.3.6 onedl-mmpretrain==1.3.6
$PY -m pip download -q --no-deps --only-binary=:all: -d .whl addict==2.4.0 yapf==0.43.0 termcolor==3.3.0 \
  platformdirs==4.14.9 mat4py==0.6.0 modelindex==0.0.2 model-index==0.1.11 ordered-set==4.1.0 \
  importlib_metadata==10.2.0 openpyxl==3.1.5 et_xmlfile==2.0.0
ls -la .whl
du -sh .whl
