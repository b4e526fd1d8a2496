#!/usr/bin/env bash
# Usage: tools/dist_predict_wsi.sh CONFIG CHECKPOINT GPUS SLIDE_OR_FOLDER --out DIR [predict_wsi.py args...]
# Slides are split across the GPUs (one process each); rank 0 writes the summary. Multi-node: see dist_run.sh.
exec bash "$(dirname "$0")/dist_run.sh" predict_wsi.py "$3" "$1" "$2" --launcher pytorch "${@:4}"
