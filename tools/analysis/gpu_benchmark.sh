#!/usr/bin/env bash
# GPU benchmark, one script, < 8 minutes on one H100/H200-class GPU. Prints:
#   1. PLIP-shape (ViT-B/32 @224) LoRA train img/s through tools/train.py, bf16, batch 256, eager and
#      torch.compile, next to the HF peft loop on the same model (goal >= 7,800 img/s), and peak memory of LoRA
#      vs full fine-tuning (goal LoRA <= 0.7x full);
#   2. CONCH-shape ViT-B/16 @448 LoRA train img/s, bf16, batch 64 (goal >= 600 img/s);
#   3. evaluation img/s of the PLIP-shape model with the decoded-image cache vs the JPEG path (bf16 autocast).
# Models are random-initialised at the real shapes and data are synthetic (built on the fly; no network).
#
# Prepare HERE (network): bash tools/analysis/gpu_wheels.sh   (pure-Python wheels into .whl/, ~4 MB)
# Run THERE, through the device tool:  run(command="bash tools/analysis/gpu_benchmark.sh", carry=[".whl"],
#                                          timeout_s=600)
# CPU dry run of the same steps at toy sizes: TINY=1 bash tools/analysis/gpu_benchmark.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
if ! $PY -c "import mmengine, mmcv, mmpretrain" 2>/dev/null; then
  [ -d .whl ] || { echo "no OpenMMLab packages and no .whl/: run tools/analysis/gpu_wheels.sh first"; exit 1; }
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
WORK=${WORK:-/tmp/mmmedfm_gpu_bench}
OUT=${OUT:-$WORK}
mkdir -p "$WORK" "$OUT"
NW=$(( $(nproc) > 16 ? 16 : $(nproc) ))
SCALE=1  # time limits below are sized for the GPU
if [ "${TINY:-0}" = 1 ]; then  # CPU dry run: same commands, toy shapes, 10x the time limits (a loaded CPU)
  SCALE=10
  PLIP="--hidden 32 --layers 1 --heads 2 --batch 8 --iters 2 --warmup 1"; CONCH="--image-size 64 --patch-size 16 \
--hidden 32 --layers 1 --heads 2 --batch 4 --iters 2 --warmup 1"; EVAL="--hidden 32 --layers 1 --heads 2 --images 32 \
--batch 16"; NW=0; AMP=""
else
  PLIP="--batch 256 --iters 40 --warmup 10 --images 1024"; CONCH="--image-size 448 --patch-size 16 --batch 64 \
--iters 30 --warmup 8 --images 256"; EVAL="--hidden 768 --layers 12 --heads 12 --images 2048 --batch 256"; AMP="--amp"
fi
step() {  # name, time limit (s), command...
  local name=$1 limit=$2 rc; shift 2
  echo "=== $name ($(date -u +%T))"
  timeout "$(( limit * SCALE ))" "$@" > "$OUT/$name.log" 2>&1; rc=$?
  grep -E '^(ViT|path|hf-peft|mmmedfm|ratio|peak|[0-9]+ test|decoded|jpeg|--amp)' "$OUT/$name.log"
  [ "$rc" = 0 ] || echo "($name: exit $rc$([ "$rc" = 124 ] && echo ', time limit'); see $OUT/$name.log)"
}
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
step plip_lora_eager 120 $PY tools/analysis/benchmark_train.py $PLIP $AMP --num-workers $NW --peak-memory-full \
  --work-dir "$WORK/plip"
step plip_lora_compile 150 $PY tools/analysis/benchmark_train.py $PLIP $AMP --num-workers $NW --compile --skip hf \
  --work-dir "$WORK/plip"
step conch_lora 90 $PY tools/analysis/benchmark_train.py $CONCH $AMP --num-workers $NW --work-dir "$WORK/conch"
step eval_decoded_cache 90 $PY tools/analysis/benchmark_eval_cache.py $EVAL --num-workers $NW \
  --work-dir "$WORK/eval"
echo "=== done ($(date -u +%T)); logs in $OUT"
