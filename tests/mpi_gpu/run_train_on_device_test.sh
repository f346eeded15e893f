#!/usr/bin/env bash
# `mpirun -np 2 attnscale train configs/quickstart.yaml run.device=cuda parallel.cp=2` (ring, zigzag):
# the job builds its process grid over the device communicator, logs which transport moves device
# buffers and why, and reports the same losses as the same job with run.device=cpu. Exit 77 (skip)
# when the runtime sees no GPU (a CUDA build on a machine without one).
#   run_train_on_device_test.sh MPIEXEC ATTNSCALE SOURCE_DIR
set -uo pipefail
mpiexec=$1 program=$2 source_dir=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "[train on device test] FAILED: $*"; exit 1; }
small=(parallel.cp=2 parallel.layout=zigzag model.d_model=32 model.n_layers=1 data.seq_len=16 data.batch_size=4
       train.steps=3 train.eval_every=3 train.eval_batches=1 train.threads=1 logging.progress=off checkpoint.every=0)

run() {  # run DEVICE: the job's output
  timeout 300 "$mpiexec" -n 2 --oversubscribe "$program" train "$source_dir/configs/quickstart.yaml" \
    "run.dir=$dir/$1" "run.device=$1" "${small[@]}" 2>&1
}

gpu=$(run cuda)
rc=$?
if [ "$rc" -eq 2 ] && grep -q "run.device = cuda, but" <<<"$gpu"; then
  echo "[train on device test] skipped: $(grep -m1 -o 'run.device = cuda, but.*' <<<"$gpu")"
  exit 77
fi
echo "$gpu" | tail -4
[ "$rc" -eq 0 ] || fail "run.device=cuda: exit $rc"
grep -q "'world' (2 ranks) moves device buffers over" <<<"$gpu" || fail "no line saying which transport moves device buffers"
cpu=$(run cpu)
[ $? -eq 0 ] || fail "run.device=cpu: $cpu"
losses() { grep -m1 -o "done: .* eval loss [0-9.]*" <<<"$1"; }
[ -n "$(losses "$gpu")" ] || fail "no 'done:' line"
[ "$(losses "$gpu")" = "$(losses "$cpu")" ] || fail "device: '$(losses "$gpu")', cpu: '$(losses "$cpu")'"
echo "[train on device test] passed: $(losses "$gpu") on both devices"
