#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]   (multi-node: see dist_run.sh)
exec bash "$(dirname "$0")/dist_run.sh" test.py "$3" "$1" "$2" --launcher pytorch "${@:4}"
