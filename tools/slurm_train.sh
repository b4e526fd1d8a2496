#!/usr/bin/env bash
# Usage: [GPUS=8 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR [args]
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" train.py "$3" --work-dir="$4" --launcher="slurm" "${@:5}"
