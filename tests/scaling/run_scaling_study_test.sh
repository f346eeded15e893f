#!/usr/bin/env bash
# scripts/scaling-study.py end to end in a few seconds: the --quick sweep (1 and 2 ranks, ring and
# halo), on the copy task and on packed ListOps (--data), writes its CSV, JSON and plots with sane
# numbers (check_scaling_results.py), --replot redraws
# the plots; a missing benchmark and bad arguments exit 2 with a message; a point past --timeout is
# recorded as failed, its ranks are ended, and the exit code is 1.
#   run_scaling_study_test.sh BENCH_LONG_STEP
set -uo pipefail
bench=$1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="$here/../../scripts/scaling-study.py"
python=${ATTNSCALE_PYTHON:-/usr/bin/python3}  # Debian's numpy and matplotlib
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "[scaling-study test] FAILED: $*"; exit 1; }

"$python" "$script" --quick --bench "$bench" --out "$dir/quick" || fail "--quick exited $?"
"$python" "$here/check_scaling_results.py" "$dir/quick" || fail "the quick sweep's results"
# The same sweep on a real task: ListOps expressions packed into each sequence (--data).
"$(dirname "$bench")/attnscale" prepare listops --output "$dir/listops.h5" --train 200 --validation 0 --test 0 \
  --min-length 8 --max-length 64 >/dev/null || fail "attnscale prepare listops exited $?"
"$python" "$script" --quick --bench "$bench" --data "$dir/listops.h5" --out "$dir/listops" || fail "--data exited $?"
"$python" "$here/check_scaling_results.py" "$dir/listops" || fail "the ListOps sweep's results"
grep -q "\"data\": \"$dir/listops.h5\"" "$dir/listops/points/t4096_p2_halo.json" || fail "the points did not train on --data"
rm "$dir/quick/attention_bytes.png"
"$python" "$script" --replot "$dir/quick" || fail "--replot exited $?"
[ -s "$dir/quick/attention_bytes.png" ] || fail "--replot did not redraw attention_bytes.png"

expect_usage_error() {  # WHAT PATTERN ARGS...
  local what=$1 pattern=$2 output rc
  shift 2
  output=$("$python" "$script" "$@" 2>&1)
  rc=$?
  echo "[scaling-study test] $what: exit $rc: $output"
  [ "$rc" -eq 2 ] || fail "$what: exit $rc, expected 2"
  grep -q -- "$pattern" <<<"$output" || fail "$what: the message does not say '$pattern'"
  [ -e "$dir/unused" ] && fail "$what: an output directory was created"
  return 0
}
expect_usage_error "missing build" "scripts/build.sh" \
  --quick --bench "$dir/no/bench_long_step" --out "$dir/unused"
expect_usage_error "bad tokens" "--tokens" --quick --bench "$bench" --tokens 1024,abc --out "$dir/unused"
expect_usage_error "bad algo" "not one of ring,halo,all_gather,auto" --quick --bench "$bench" --algo ring,zigzag --out "$dir/unused"
expect_usage_error "missing data" "attnscale prepare listops" --quick --bench "$bench" --data "$dir/no.h5" --out "$dir/unused"
expect_usage_error "heads" "not divisible" --quick --bench "$bench" --d-model 64 --heads 3 --out "$dir/unused"

# A timeout (a point of about 1 s; mpirun alone needs more than 0.2 s to start): the point is
# recorded with its reason, mpirun and both ranks are gone, exit 1.
"$python" "$script" --quick --bench "$bench" --ranks 2 --algo ring --tokens 65536 --timeout 0.2 --out "$dir/late"
rc=$?
[ "$rc" -eq 1 ] || fail "a timed-out point: exit $rc, expected 1"
grep -q ",failed,exceeded --timeout 0.2 s," "$dir/late/results.csv" || fail "the timeout is not in results.csv"
sleep 1
pgrep -f -- "--out $dir/late" >/dev/null && fail "processes of the timed-out sweep are still running"
pgrep -f -- "--json $dir/late/" >/dev/null && fail "ranks of the timed-out point are still running"
echo "[scaling-study test] passed"
