#!/usr/bin/env bash
# `mpirun -np 2 attnscale train ... parallel.timeout_s=2` with rank 1 hanging mid-training (alive but
# silent, like a SIGSTOPped process): rank 0's communication fails after the timeout set by the key
# (not twice it), naming the rank, the operation and the training step, and the job ends non-zero.
#   run_train_timeout_test.sh MPIEXEC ATTNSCALE CONFIG
set -uo pipefail
mpiexec=$1 program=$2 config=$3
timeout_s=2
export ATTNSCALE_FAULT_KILL_RANK=1 ATTNSCALE_FAULT_AT_OP=60 ATTNSCALE_FAULT_MODE=hang
unset ATTNSCALE_COMM_TIMEOUT_S  # the key alone must set the timeout
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "[train timeout test] FAILED: $*"; exit 1; }

# Each output line with the time it arrived (seconds, nanosecond resolution).
timeout --kill-after=5 120 "$mpiexec" -n 2 --oversubscribe "$program" train "$config" "run.dir=$dir/run" \
    parallel.dp=2 "parallel.timeout_s=$timeout_s" train.steps=100000 train.threads=1 logging.progress=off \
    model.d_model=16 model.n_layers=1 model.n_heads=2 data.seq_len=16 data.batch_size=4 data.vocab_size=16 \
    train.eval_batches=1 train.eval_every=0 2>&1 |
  while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done >"$dir/output"
rc=${PIPESTATUS[0]}
cat "$dir/output"

[ "$rc" -ne 0 ] || fail "the job exited 0 although rank 1 hung"
injected=$(grep -m1 "\[fault\] injected fault: rank 1 hangs" "$dir/output" | cut -d' ' -f1)
[ -n "$injected" ] || fail "rank 1 did not hang (no fault-injection message)"
pattern="\[comm\] rank 0 \(world rank 0 of 2\): [a-z_]+ .* timed out after ${timeout_s}\.0 s at step 'train step [0-9]+'"
reported=$(grep -m1 -E "$pattern" "$dir/output" | cut -d' ' -f1)
[ -n "$reported" ] || fail "rank 0 did not report the timeout with its rank, operation, parallel.timeout_s and step"
grep -q "ending the job on every rank (MPI_Abort" "$dir/output" || fail "the job was not ended on every rank"
# Rank 0 reports the failure once the timeout has passed since rank 1 went silent, not twice it.
waited=$(awk -v a="$injected" -v b="$reported" 'BEGIN { printf "%.2f", b - a }')
echo "[train timeout test] rank 1 hung, rank 0 reported the timeout ${waited}s later (parallel.timeout_s=$timeout_s)"
awk -v w="$waited" -v t="$timeout_s" 'BEGIN { exit !(w >= t - 1.0 && w <= t + 1.2) }' ||
  fail "the failure came ${waited}s after the hang; expected about ${timeout_s}s"
echo "[train timeout test] passed"
