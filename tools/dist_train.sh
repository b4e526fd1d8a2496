#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args...]   (multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT)
# The global batch is train_dataloader.batch_size x GPUS (x NNODES): train.py logs it and how to keep the
# single-GPU recipe (--cfg-options train_dataloader.batch_size=B/GPUS, or --auto-scale-lr to scale the lr).
exec bash "$(dirname "$0")/dist_run.sh" train.py "$2" "$1" --launcher pytorch "${@:3}"
