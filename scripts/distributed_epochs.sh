#!/bin/bash
# Epoch times of a model file on full MNIST, in alternating rounds:
# 1 process x 2 BLAS threads, 2 ranks x 1 thread (mpiexec -n 2), 1 process x 1 thread.
#
#   scripts/distributed_epochs.sh MODEL_FILE EPOCHS ROUNDS OUT_DIR
#   python scripts/distributed_speed.py epochs OUT_DIR     # the table from the JSON files
#
# Run from the repository root. Each run writes OUT_DIR/{p2,r2,p1}-ROUND.json (--metrics-json,
# whose history.seconds are the epochs' training times); OUT_DIR/uptime.txt gets the load
# average before each round and after the last. Each run holds /tmp/bench.lock, so no other
# timing overlaps it, and runs without the kernel pin (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE).
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 MODEL_FILE EPOCHS ROUNDS OUT_DIR" >&2
  exit 2
fi
MODEL=$1 EPOCHS=$2 ROUNDS=$3 OUT=$4
PY=${PYTHON:-python}; MPIEXEC=${MPIEXEC:-mpiexec}
mkdir -p "$OUT"
# run TAG COMMAND...: COMMAND -m tinynet train ... under the lock, writing OUT/TAG.json
run() {
  local tag=$1; shift
  flock /tmp/bench.lock env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@" -m tinynet train \
    "$MODEL" --epochs "$EPOCHS" --verbose 0 --metrics-json "$OUT/$tag.json" > /dev/null
}
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round: $(uptime)" | tee -a "$OUT/uptime.txt"
  run "p2-$round" env OPENBLAS_NUM_THREADS=2 "$PY"
  run "r2-$round" env OPENBLAS_NUM_THREADS=1 "$MPIEXEC" -n 2 "$PY"
  run "p1-$round" env OPENBLAS_NUM_THREADS=1 "$PY"
done
echo "end: $(uptime)" | tee -a "$OUT/uptime.txt"
