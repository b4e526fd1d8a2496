#!/usr/bin/env bash
# Usage: tools/dist_run.sh SCRIPT GPUS [SCRIPT args...]   (multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT)
# The one torchrun launcher behind dist_train.sh, dist_test.sh and dist_predict_wsi.sh: GPUS processes of
# tools/SCRIPT on this node, the package importable from this checkout.
SCRIPT=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
torchrun \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/$SCRIPT" \
    "${@:3}"
