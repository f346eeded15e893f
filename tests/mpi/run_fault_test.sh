#!/usr/bin/env bash
# Runs test_mpi's FaultInjection test on 3 ranks with rank 1 failing mid-run, and checks that the
# job ends on every rank, non-zero, within the communicator timeout plus start-up slack.
#   run_fault_test.sh MODE MPIEXEC TEST_MPI      MODE: kill (SIGKILL, like a crashed node) or
#                                                hang (alive but silent: peers must time out)
set -uo pipefail
mode=$1 mpiexec=$2 binary=$3
timeout_s=3
limit_s=$((timeout_s + 40))
export ATTNSCALE_FAULT_KILL_RANK=1 ATTNSCALE_FAULT_AT_OP=25 ATTNSCALE_FAULT_MODE=$mode
export ATTNSCALE_COMM_TIMEOUT_S=$timeout_s OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

start=$(date +%s)
output=$(timeout --kill-after=5 $((limit_s + 30)) "$mpiexec" -n 3 --oversubscribe \
           "$binary" --gtest_filter='FaultInjection.*' 2>&1)
rc=$?
elapsed=$(( $(date +%s) - start ))
echo "$output"
echo "[fault test] mode=$mode exit=$rc elapsed=${elapsed}s (limit ${limit_s}s)"

fail() { echo "[fault test] FAILED: $*"; exit 1; }
[ "$rc" -ne 0 ] || fail "the job exited 0 after rank 1 failed"
[ "$elapsed" -le "$limit_s" ] || fail "the job took ${elapsed}s to end (limit ${limit_s}s)"
grep -q "\[fault\] injected fault: rank 1 " <<<"$output" || fail "no fault-injection message from rank 1"
if [ "$mode" = hang ]; then
  grep -Eq "\[r[02]\] \[comm\] rank [02] \(world rank [02] of 3\): .* timed out after ${timeout_s}\.0 s at step 'fault step [0-9]+'" \
    <<<"$output" || fail "no surviving rank reported the timeout with its rank, operation and step"
  grep -q "ending the job on every rank (MPI_Abort" <<<"$output" || fail "run_job did not end the job"
fi
echo "[fault test] passed"
