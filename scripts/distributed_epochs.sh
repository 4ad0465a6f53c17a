#!/bin/bash
# epoch times of models/mnist_mlp.py on full MNIST: 2 ranks x 1 thread vs 1 process x 2 threads (and x 1)
PY=${PYTHON:-python}; MPIEXEC=${MPIEXEC:-mpiexec}; M=models/mnist_mlp.py
# run from the repository root; writes p2-*.json, r2-*.json, p1-*.json here
for rep in 1 2 3; do
  uptime
  OPENBLAS_NUM_THREADS=2 $PY -m tinynet train $M --epochs 3 --verbose 0 --metrics-json p2-$rep.json > /dev/null
  OPENBLAS_NUM_THREADS=1 $MPIEXEC -n 2 $PY -m tinynet train $M --epochs 3 --verbose 0 --metrics-json r2-$rep.json > /dev/null
  OPENBLAS_NUM_THREADS=1 $PY -m tinynet train $M --epochs 3 --verbose 0 --metrics-json p1-$rep.json > /dev/null
done
uptime
