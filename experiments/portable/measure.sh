#!/usr/bin/env bash
# The SIMD kernels' dispatch (kernels/isa.h) against the build before it, and the AVX2 variant
# against the AVX-512 one, on this machine: bench_attention --quick and a 1-rank bench_long_step,
# alternating the binaries ROUNDS times (the machine is shared; the best of the rounds is kept).
#   experiments/portable/measure.sh BEFORE_BIN_DIR AFTER_BIN_DIR OUT_DIR [ROUNDS]
# BEFORE_BIN_DIR: build/bin of the commit before the dispatch; AFTER_BIN_DIR: build/bin with it
# (native: run as is and with ATTNSCALE_ISA=avx2). Writes OUT_DIR/<run>-<round>.json and
# OUT_DIR/summary.json (experiments/portable/summarize.py).
set -euo pipefail
before=$1 after=$2 out=$3 rounds=${4:-3}
mkdir -p "$out"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
step_args=(--tokens 8192 --window 256 --d-model 64 --layers 2 --heads 2 --steps 2 --no-reference)
for round in $(seq 1 "$rounds"); do
  for run in before after avx2; do
    bin=$after isa=
    [ "$run" = before ] && bin=$before
    [ "$run" = avx2 ] && isa=avx2
    ATTNSCALE_ISA=$isa "$bin/bench_attention" --quick --threads 1 --no-rss --json "$out/attention-$run-$round.json" >/dev/null
    ATTNSCALE_ISA=$isa "$bin/bench_long_step" "${step_args[@]}" --json "$out/step-$run-$round.json" >/dev/null
  done
done
python3 "$(dirname "$0")/summarize.py" "$out" "$rounds" >"$out/summary.json"
cat "$out/summary.json"
