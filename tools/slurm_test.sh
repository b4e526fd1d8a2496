#!/usr/bin/env bash
# Usage: [GPUS=8 ...] tools/slurm_test.sh PARTITION JOB CONFIG CHECKPOINT [test.py args]
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" test.py "$3" "$4" --launcher="slurm" "${@:5}"
