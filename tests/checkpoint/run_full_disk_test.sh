#!/usr/bin/env bash
# A checkpoint save on a full disk: `attnscale train` on one rank with checkpoint.dir on a tiny tmpfs
# (room for one checkpoint, not two) exits 1 with a one-line message naming the file and "No space
# left on device", without crashing (it used to segfault in HDF5's exit handler, exit 139), and
# the checkpoint saved before is intact. Mounting needs root (CI runs as root); elsewhere the test
# is skipped (exit 77) with the reason.
#   run_full_disk_test.sh ATTNSCALE CONFIG
set -uo pipefail
program=$1 config=$2
export OMP_NUM_THREADS=1
dir=$(mktemp -d)
disk=$dir/disk
mkdir -p "$disk"
cleanup() { mountpoint -q "$disk" && umount "$disk"; rm -rf "$dir"; }
trap cleanup EXIT
skip() { echo "[full disk test] skipped: $*"; exit 77; }
fail() { echo "[full disk test] FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
# A checkpoint of this model is about 1.5 MB: one fits in 2200 KiB, a second does not.
mount -t tmpfs -o size=2200k attnscale-full-disk "$disk" 2>"$dir/mount.err" ||
  skip "cannot mount a tmpfs here: $(cat "$dir/mount.err")"

"$program" train "$config" "run.dir=$dir/run" "checkpoint.dir=$disk/checkpoints" train.steps=4 \
    checkpoint.every=2 checkpoint.keep=2 train.threads=1 logging.progress=off model.d_model=64 \
    train.eval_batches=1 >"$dir/out" 2>"$dir/err"
rc=$?
cat "$dir/err"
echo "[full disk test] exit $rc"
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1"
error_lines=$(grep -c "error\|No space" "$dir/err")
line=$(grep "No space left on device" "$dir/err")
[ -n "$line" ] || fail "no 'No space left on device' message"
[ "$(grep -c "No space left on device" "$dir/err")" -eq 1 ] || fail "the reason is printed over several lines"
grep -q "saving step 4 to $disk/checkpoints/step_00000004 failed on rank 0: .*$disk/checkpoints/step_00000004.tmp/model.h5: No space left on device" \
  <<<"$line" || fail "the message does not name the file: $line"
grep -q "H5F\|HDF5-DIAG\|Segmentation" "$dir/err" && fail "HDF5's error stack or a crash was printed"
[ -d "$disk/checkpoints/step_00000002" ] || fail "the checkpoint of step 2 is gone"
[ ! -e "$disk/checkpoints/step_00000004.tmp" ] || fail "the failed save left step_00000004.tmp"
"$program" checkpoint verify "$disk/checkpoints" || fail "the checkpoint of step 2 does not verify"
echo "[full disk test] passed (${error_lines} error line(s))"
