#!/usr/bin/env bash
# The GPU session's checks, run once on a lent H100/H200 (JAX and PyTorch there, no
# TensorFlow): training throughput against eager PyTorch, the feed end to end, and a short
# real SRResNet run evaluated on Set5/Set14. Needs, beside the checkout:
#   .whl/      keras, namex and optree wheels (cp312, manylinux x86_64)
#   .devdata/  train/sunhays80 and benchmarks/{Set5,Set14} copied from ../shared/data
# Logs go to $OUT (or ./device-out). SMALL=1 runs everything tiny, to try it on a CPU.
set -uo pipefail
OUT="${OUT:-device-out}"
mkdir -p "$OUT"
if [ -d .whl ] && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND="${KERAS_BACKEND:-jax}"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.45 SRGAN_VGG_WEIGHTS=none
if [ "${SMALL:-0}" = 1 ]; then
  bench=(--steps 2 --batch-size 2 --num-blocks 1 --hr-size 32)
  feed=(--limit 4 --seconds 1 --fit-steps 2)
  train=(--epochs 1 --steps-per-epoch 2 --batch-size 2)
  gan=(--epochs 1 --steps-per-epoch 2 --batch-size 2)
else
  bench=(--steps 30)
  feed=(--limit 80 --seconds 5 --fit --fit-steps 200)
  train=(--epochs 6 --steps-per-epoch 500 --batch-size 16)
  gan=(--epochs 1 --steps-per-epoch 200 --batch-size 16)
fi
run() { echo "+ $*" | tee -a "$OUT/log.txt"; "$@" 2>&1 | tee -a "$OUT/log.txt"; }

run nvidia-smi -L
run python3 -c "import jax, keras; print(jax.devices(), 'keras', keras.__version__)"
run python3 bench/train_throughput.py --precision float32 mixed_bfloat16 "${bench[@]}"
run python3 bench/data_throughput.py --folder .devdata/train/sunhays80 "${feed[@]}"
run python3 -m srgan_course.cli train --stage srresnet --preset paper --precision mixed_bfloat16 \
  --data .devdata/train/sunhays80 --save-interval 2 --run-dir "$OUT/srresnet" "${train[@]}"
run python3 -m srgan_course.cli evaluate --weights "$OUT/srresnet/generator.weights.h5" \
  --names SRResNet --sets Set5,Set14 --data-dir .devdata/benchmarks --out "$OUT/eval" \
  --tile 64 --overlap 40
run python3 -m srgan_course.cli train --stage srgan --preset paper --precision mixed_bfloat16 \
  --data .devdata/train/sunhays80 --init-from "$OUT/srresnet" --vgg-weights none \
  --run-dir "$OUT/srgan" "${gan[@]}"
# Bring back a few files only (the tool returns at most 8).
for run in srresnet srgan; do
  cp "$OUT/$run/history.csv" "$OUT/${run}_history.csv" 2>/dev/null
  last=$(ls "$OUT/$run/samples" 2>/dev/null | tail -1)
  [ -n "$last" ] && cp "$OUT/$run/samples/$last" "$OUT/${run}_samples.png"
done
cp "$OUT/eval/summary.md" "$OUT/eval_summary.md" 2>/dev/null
rm -rf "$OUT/srresnet" "$OUT/srgan" "$OUT/eval"
