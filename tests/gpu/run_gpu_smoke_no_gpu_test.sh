#!/usr/bin/env bash
# scripts/gpu-smoke.sh on a machine without a GPU: exit 77 and a results file saying why, nothing
# built. On a machine with a GPU this test is skipped (CTest SKIP_RETURN_CODE 77).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "a GPU is present: run scripts/gpu-smoke.sh itself"
  exit 77
fi
results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
set +e
OUT= bash "$root/scripts/gpu-smoke.sh" "$results"
code=$?
set -e
[ "$code" -eq 77 ] || { echo "expected exit 77 without a GPU, got $code"; exit 1; }
python3 - "$results/gpu-smoke.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "no_gpu" and r["reason"] and r["steps"] == [], r
print("no GPU:", r["reason"])
PY
