#!/usr/bin/env bash
# GPU smoke test: on a machine with one GPU, build the CUDA backend and check it against the CPU.
#
#   scripts/gpu-smoke.sh [RESULTS_DIR]      (default: $OUT, else ./gpu-smoke-results)
#
# Steps (each recorded in RESULTS_DIR/gpu-smoke.json with its status, seconds and details):
#   build      configure and build build-gpu/ with -DATTNSCALE_CUDA=ON for this GPU's architecture
#   gpu_tests  ctest -L gpu (tests that need a device)
#   op_check   attnscale op-check attention on the CPU and with --device cuda, for causal, window,
#              segments, uneven lengths (N != M, not multiples of 64) and a fully masked row;
#              out, lse, dq, dk, dv compared (a NaN fails)
#   train      configs/quickstart.yaml for 20 steps with run.device=cpu and run.device=cuda; the 20
#              losses compared
#   bench      build-gpu/bin/bench_gpu_attention --json: fused attention (N = 4k and 16k, D = 128,
#              causal) against a cuBLAS SGEMM in the same run
# Exit status: 0 every step passed, 1 a step failed (or could not run), 77 no GPU here.
# Needs: nvidia-smi, nvcc, CMake, Ninja and the project's dependencies (MPI, HDF5, yaml-cpp: see
# scripts/install-deps.sh), python3 with numpy and h5py for op-check's files. Budget: < 5 minutes on
# one H100.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
results="${1:-${OUT:-$PWD/gpu-smoke-results}}"
mkdir -p "$results"
results="$(cd "$results" && pwd)"
json="$results/gpu-smoke.json"
steps="$results/steps.jsonl"  # one JSON object per finished step
: >"$steps"

# finish STATUS EXIT_CODE [REASON]: writes gpu-smoke.json from the recorded steps and exits.
finish() {
  python3 - "$steps" "$json" "$1" "${3:-}" <<'EOF'
import json, sys
steps_file, out, status, reason = sys.argv[1:5]
steps = [json.loads(line) for line in open(steps_file) if line.strip()]
result = {"status": status, "steps": steps}
if reason:
    result["reason"] = reason
json.dump(result, open(out, "w"), indent=2)
EOF
  echo "gpu-smoke: $1${3:+ ($3)}; results in $json"
  exit "$2"
}

# record NAME STATUS SECONDS DETAIL: appends one step.
record() {
  python3 -c 'import json,sys; print(json.dumps({"step": sys.argv[1], "status": sys.argv[2], "seconds": float(sys.argv[3]), "detail": sys.argv[4]}))' \
    "$1" "$2" "$3" "$4" >>"$steps"
  echo "gpu-smoke: $1: $2 (${3}s) $4"
}

# run_step NAME COMMAND...: runs a step, its output in RESULTS_DIR/NAME.log; returns its status.
failed=0
run_step() {
  local name="$1"
  shift
  local start=$SECONDS
  if "$@" >"$results/$name.log" 2>&1; then
    record "$name" pass $((SECONDS - start)) "$(tail -n 1 "$results/$name.log")"
  else
    record "$name" fail $((SECONDS - start)) "$(tail -n 5 "$results/$name.log")"
    failed=1
    return 1
  fi
}

# ---- is there a GPU? ------------------------------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1; then
  finish no_gpu 77 "nvidia-smi not found: no NVIDIA driver on this machine"
fi
gpu_line="$(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader 2>/dev/null | head -n 1)"
if [ -z "$gpu_line" ]; then
  finish no_gpu 77 "nvidia-smi lists no GPU"
fi
arch="$(echo "$gpu_line" | awk -F', *' '{gsub(/\./, "", $2); print $2}')"
echo "gpu-smoke: $gpu_line (sm_$arch)"

# ---- build ------------------------------------------------------------------------------------------
build="$root/build-gpu"
configure_and_build() {
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCALE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" &&
    cmake --build "$build" -j "$(nproc)" --target attnscale_app test_gpu &&
    { cmake --build "$build" -j "$(nproc)" --target bench_gpu_attention || true; }
}
run_step build configure_and_build || finish fail 1 "build failed: see $results/build.log"

# ---- the steps ------------------------------------------------------------------------------------------
run_step gpu_tests ctest --test-dir "$build" -L gpu --output-on-failure

op_check() {
  python3 "$root/scripts/gpu_smoke_op_check.py" "$build/bin/attnscale" "$results/op_check"
}
run_step op_check op_check

train_both() {
  local common=(train.steps=20 train.log_every=1 train.eval_every=0 checkpoint.every=0 logging.progress=off)
  for device in cpu cuda; do
    rm -rf "$results/train_$device"
    "$build/bin/attnscale" train "$root/configs/quickstart.yaml" "${common[@]}" run.device=$device \
      run.dir="$results/train_$device" || return 1
  done
  python3 - "$results/train_cpu/metrics.jsonl" "$results/train_cuda/metrics.jsonl" <<'EOF'
import json, math, sys
def losses(path):
    return [r["loss"] for r in map(json.loads, open(path)) if r.get("loss") is not None][:20]
cpu, gpu = losses(sys.argv[1]), losses(sys.argv[2])
if len(cpu) < 20 or len(gpu) < 20:
    sys.exit(f"expected 20 losses, got {len(cpu)} (cpu) and {len(gpu)} (cuda)")
worst = max(abs(a - b) / max(abs(a), 1e-6) for a, b in zip(cpu, gpu))
ok = all(math.isfinite(a) and math.isfinite(b) for a, b in zip(cpu, gpu)) and worst <= 2e-3
print(f"20 losses: largest relative difference {worst:.2e} (limit 2e-3); cpu {cpu[0]:.4f}->{cpu[-1]:.4f}, "
      f"cuda {gpu[0]:.4f}->{gpu[-1]:.4f}")
sys.exit(0 if ok else 1)
EOF
}
run_step train train_both

bench() {
  [ -x "$build/bin/bench_gpu_attention" ] || {
    echo "build-gpu/bin/bench_gpu_attention was not built (no GPU attention benchmark in this tree)"
    return 1
  }
  "$build/bin/bench_gpu_attention" --json "$results/bench_gpu_attention.json"
}
run_step bench bench

if [ "$failed" -ne 0 ]; then finish fail 1 "a step failed"; fi
finish pass 0
