#!/usr/bin/env bash
# The shipped models' GPU run (srgan_lib.recipe), once on a lent H100/H200 (JAX there, no
# TensorFlow): `srgan models train` with its default 7-minute budget (SRResNet 5 min, then
# SRGAN-MSE 2 min) on the 80 Sun-Hays photographs. Cards are written afterwards on any
# machine with the benchmarks: `srgan models card OUT --data-dir ...`. Needs, beside the
# checkout:
#   .whl/      keras, namex and optree wheels (cp312, manylinux x86_64)
#   .devdata/  train/sunhays80 copied from ../shared/data
# Results go to $OUT/models.tgz (weights, recipe.json, histories, schedules, last samples).
# SMALL=1 runs it tiny, to try it on a CPU.
set -uo pipefail
OUT="${OUT:-device-out}"
WORK="${WORK:-/tmp/models}"
mkdir -p "$OUT"
if [ -d .whl ] && ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND="${KERAS_BACKEND:-jax}"
export PYTHONUNBUFFERED=1 SRGAN_SHARED_DATA="$PWD/.devdata"
if [ "${SMALL:-0}" = 1 ]; then
  size=(--budget-minutes 0.4 --num-blocks 2 --hr-size 32 --batch-size 2 --steps-per-epoch 8
        --max-images 4)
else
  size=(--budget-minutes "${BUDGET:-7}")
fi
{
  nvidia-smi -L
  python3 -c "import jax, keras; print(jax.devices(), 'keras', keras.__version__)"
  time python3 -m srgan_course.cli models train --out "$WORK" --data sunhays80 --no-cards "${size[@]}"
} 2>&1 | grep -v "^I0000\|^WARNING: All log" | tee "$OUT/log.txt"
cd "$WORK" && tar czf "$OUT/models.tgz" recipe.json ./*.weights.h5 ./*/history.csv \
  ./*/schedule.csv ./*/config.json $(for s in srresnet srgan; do ls "$s"/samples/*.png | tail -1; done)
ls -la "$OUT"
