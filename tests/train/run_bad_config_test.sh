#!/usr/bin/env bash
# `mpirun -np 2 attnscale train BAD.yaml`: every rank finds the error before any communication and
# exits 2 with a message naming the key and the file:line, within seconds.
#   run_bad_config_test.sh MPIEXEC ATTNSCALE
set -uo pipefail
mpiexec=$1 program=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "[bad config test] FAILED: $*"; exit 1; }

check() {  # NAME YAML KEY
  printf '%b' "$2" > "$dir/$1.yaml"
  local start output rc elapsed
  start=$(date +%s)
  output=$(timeout 60 "$mpiexec" -n 2 --oversubscribe "$program" train "$dir/$1.yaml" "run.dir=$dir/run" 2>&1)
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  echo "$output" | grep -E "error|\[r[01]\]" | head -4
  echo "[bad config test] $1: exit $rc in ${elapsed}s"
  [ "$rc" -eq 2 ] || fail "$1: exit $rc, expected 2"
  [ "$elapsed" -le 30 ] || fail "$1: took ${elapsed}s"
  [ "$(grep -c "$3" <<<"$output")" -ge 2 ] || fail "$1: not every rank named '$3'"
  [ -e "$dir/run" ] && fail "$1: a run directory was created"
  return 0
}

# An out-of-range value: found while loading, before MPI starts.
check negative_lr 'optim:\n  lr: -0.1\n' "optim.lr"
# A grid that does not fit the world: found right after MPI starts, before any collective.
check world_size 'parallel:\n  dp: 4\n' "parallel.dp"
echo "[bad config test] passed"
