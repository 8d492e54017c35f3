#!/usr/bin/env bash
# Issue 18's GPU checks, as one prepared run on the device machine (repo root; results
# under $OUT): the CUDA tests, the diffusion benchmark at m = n = 1024, 4096 and 16384
# (the baseline at 1024), and D1 size by size to n = m = 16384 at R = 24. Each step has
# its own time limit so that the later ones still run; outputs are written as they come.
# Wheels the GPU image lacks (python-flint, tomli-w) travel in .whl (device README).
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg BOUNDKIT_MEMORY_GB=100
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__)"; } \
    > "$OUT/env.txt" 2>&1
timeout "${T_TESTS:-110}" python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py \
    > "$OUT/tests.txt" 2>&1
timeout "${T_BENCH:-170}" python3 benchmarks/bench_diffusion.py --device cuda \
    --sizes 1024 4096 16384 > "$OUT/bench.txt" 2>&1
timeout "${T_D1:-250}" python3 benchmarks/d1_sizes.py --device cuda --reps 24 \
    --sizes 64 128 256 512 1024 2048 4096 8192 16384 --budget-s "${T_D1_BUDGET:-235}" \
    --out "$OUT/d1.json" > "$OUT/d1.txt" 2>&1
echo done >> "$OUT/env.txt"
