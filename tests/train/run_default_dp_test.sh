#!/usr/bin/env bash
# `mpirun -np 2 attnscale train configs/quickstart.yaml` with no parallel.* key: parallel.dp follows
# from the world size (2 ranks / cp 1 = 2 data-parallel replicas), the run succeeds and says so. A
# dp given explicitly is still checked against the world size.
#   run_default_dp_test.sh MPIEXEC ATTNSCALE SOURCE_DIR
set -uo pipefail
mpiexec=$1 program=$2 source_dir=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "[default dp test] FAILED: $*"; exit 1; }
small=(model.d_model=32 model.n_layers=1 data.seq_len=32 train.steps=3 train.eval_every=3 train.eval_batches=1
       train.threads=1 logging.progress=off checkpoint.every=0)

output=$(timeout 120 "$mpiexec" -n 2 --oversubscribe "$program" train "$source_dir/configs/quickstart.yaml" \
         "run.dir=$dir/run" "${small[@]}" 2>&1)
rc=$?
echo "$output" | tail -5
[ "$rc" -eq 0 ] || fail "exit $rc, expected 0"
grep -q "2 rank(s): dp 2 x cp 1" <<<"$output" || fail "no 'dp 2 x cp 1' in the log"

output=$(timeout 60 "$mpiexec" -n 2 --oversubscribe "$program" train "$source_dir/configs/quickstart.yaml" \
         "run.dir=$dir/explicit" parallel.dp=1 "${small[@]}" 2>&1)
rc=$?
[ "$rc" -eq 2 ] || fail "explicit parallel.dp=1 on 2 ranks: exit $rc, expected 2"
grep -q "parallel.dp \* parallel.cp = 1 \* 1 = 1, but the job has 2 ranks" <<<"$output" || fail "message: $output"
echo "[default dp test] passed"
