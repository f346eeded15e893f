#!/usr/bin/env bash
# GPU smoke test: on a machine with one GPU, checks the CUDA backend against the CPU in under 5 minutes.
#
#   scripts/gpu-smoke.sh [RESULTS_DIR]      (default: $OUT, else ./gpu-smoke-results)
#
# The programs come from the bundle of scripts/gpu-bundle.sh when there is one (ATTNSCALE_GPU_BUNDLE:
# a folder holding gpu-bundle.tar.xz, or an unpacked bundle; default gpu-bundle/ in the repository):
# that needs only the NVIDIA driver and the CUDA libraries (cuBLAS, cuDNN, NCCL, NVRTC, e.g. Python
# wheels) here. Without a bundle they are built into build-gpu/, which needs the project's
# dependencies (scripts/install-deps.sh) and more than the time budget.
#
# Steps (each in RESULTS_DIR/gpu-smoke.json with its status, seconds, last output line and figures):
#   setup      unpack the bundle and find the CUDA libraries it names on this machine (else: build);
#              `attnscale version` (compiled and loaded library versions, the GPU)
#   gpu_tests  test_gpu: every test of the label gpu, each of which must run (they skip only
#              without a device) and pass (report: RESULTS_DIR/gpu_tests.json)
#   nccl       test_comm NcclCommunicator.*: NCCL at one rank (all-reduce, all-gather, all-to-all,
#              send/receive, broadcast, split), which must run, not skip
#   op_check   attnscale op-check attention on the CPU and with --device cuda, for causal, window,
#              segments, uneven lengths (N != M, not multiples of 64) and a fully masked row;
#              out, lse, dq, dk, dv compared (a NaN fails), and with PyTorch in float64 on the GPU
#              where python3 has it (scripts/gpu_smoke_op_check.py)
#   train      configs/quickstart.yaml for 20 steps with run.device=cpu and run.device=cuda; the 20
#              losses compared (relative 2e-3)
#   bench      bench_gpu_attention: fused attention (N = 4k and 16k, D = 128, causal) against a
#              cuBLAS SGEMM in the same run (RESULTS_DIR/bench_gpu_attention.json)
# Each step has a time limit, and all of them together ATTNSCALE_SMOKE_BUDGET_S seconds (default
# 270): a step that runs out fails, and a step with no time left is recorded as not run.
# RESULTS_DIR gets four files (the `device` tool brings back at most eight): gpu-smoke.json,
# gpu-smoke.log (every step's output), gpu_tests.json and bench_gpu_attention.json. The rest (the
# unpacked bundle, op-check files, run directories) goes to ATTNSCALE_SMOKE_WORK, default a
# temporary folder removed at the end.
# Exit status: 0 every step passed, 1 a step failed (or could not run), 77 no GPU here.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
results="${1:-${OUT:-$PWD/gpu-smoke-results}}"
mkdir -p "$results"
results="$(cd "$results" && pwd)"
json="$results/gpu-smoke.json"
log="$results/gpu-smoke.log"
budget="${ATTNSCALE_SMOKE_BUDGET_S:-270}"
deadline=$((SECONDS + budget))
if [ -n "${ATTNSCALE_SMOKE_WORK:-}" ]; then
  work="$ATTNSCALE_SMOKE_WORK"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
report=("python3" "$root/scripts/gpu_smoke_report.py")
steps="$work/steps.jsonl"  # one JSON object per finished step
info="$work/info.json"     # the GPU and where the programs came from
: >"$steps"
: >"$log"
echo '{}' >"$info"

# finish STATUS EXIT_CODE [REASON]: writes gpu-smoke.json and exits.
finish() {
  "${report[@]}" finish "$steps" "$json" "$1" "${3:-}" "$info"
  echo "gpu-smoke: $1${3:+ ($3)}; results in $json"
  exit "$2"
}

# set_info KEY VALUE: a top-level string of gpu-smoke.json.
set_info() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d[sys.argv[2]]=sys.argv[3]; json.dump(d,open(sys.argv[1],"w"))' \
    "$info" "$1" "$2"
}

# run_step NAME LIMIT_S COMMAND...: runs COMMAND (a program or an exported function) for at most
# LIMIT_S seconds, or what is left of the budget; its output goes to the log. A step's figures are
# what it wrote to $work/NAME.json.
failed=0
run_step() {
  local name="$1" limit="$2"
  shift 2
  local left=$((deadline - SECONDS))
  if [ "$left" -lt "$limit" ]; then limit=$left; fi
  if [ "$limit" -lt 5 ]; then
    "${report[@]}" step "$steps" "$name" not_run 0 "the time budget of $budget s is spent"
    echo "gpu-smoke: $name: not run (the time budget of $budget s is spent)"
    failed=1
    return 1
  fi
  local start=$SECONDS status code
  echo "==== $name (at most ${limit} s): $*" >>"$log"
  timeout -k 5 "$limit" bash -c '"$@"' "$name" "$@" >"$work/$name.log" 2>&1
  code=$?
  cat "$work/$name.log" >>"$log"
  local detail
  if [ "$code" -eq 0 ]; then
    status=pass
    detail="$(tail -n 1 "$work/$name.log")"
  elif [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    status=fail
    detail="stopped after its limit of $limit s: $(tail -n 3 "$work/$name.log")"
  else
    status=fail
    detail="exit $code: $(tail -n 5 "$work/$name.log")"
  fi
  "${report[@]}" step "$steps" "$name" "$status" $((SECONDS - start)) "$detail" "$work/$name.json"
  echo "gpu-smoke: $name: $status ($((SECONDS - start)) s) ${detail##*$'\n'}"
  [ "$status" = pass ] || failed=1
  [ "$status" = pass ]
}

# ---- is there a GPU? ------------------------------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1; then
  finish no_gpu 77 "nvidia-smi not found: no NVIDIA driver on this machine"
fi
gpu_line="$(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>/dev/null | head -n 1)"
if [ -z "$gpu_line" ]; then
  finish no_gpu 77 "nvidia-smi lists no GPU"
fi
arch="$(echo "$gpu_line" | awk -F', *' '{gsub(/\./, "", $2); print $2}')"
set_info gpu "$gpu_line"
echo "gpu-smoke: $gpu_line (sm_$arch)"

# ---- the programs: from the bundle, else built here ------------------------------------------------
bundle_source="${ATTNSCALE_GPU_BUNDLE:-$root/gpu-bundle}"

# unpack_bundle: the bundle's tree in $bundle (unpacked into the work folder from gpu-bundle.tar.xz).
unpack_bundle() {
  if [ -x "$bundle_source/bin/attnscale" ]; then
    bundle="$(cd "$bundle_source" && pwd)"
    return 0
  fi
  mkdir -p "$work/unpacked"
  # xz may be missing where Python is not.
  tar -C "$work/unpacked" -xJf "$bundle_source/gpu-bundle.tar.xz" 2>/dev/null ||
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
      "$bundle_source/gpu-bundle.tar.xz" "$work/unpacked" || return 1
  bundle="$work/unpacked/gpu-bundle"
}

# find_cuda_libraries: the folders holding the CUDA libraries the bundle names (cuda-libs.txt), and
# the driver's libcuda.so.1 where ld.so does not know it, in $work/setup.json and ATTNSCALE_CUDA_LIBS.
# The Python wheels first (the set PyTorch uses here), then the usual CUDA folders, then anywhere.
find_cuda_libraries() {
  local names=() roots=() expression=() name found
  mapfile -t names <"$bundle/cuda-libs.txt"
  ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 ' || names+=(libcuda.so.1)
  mapfile -t roots < <(python3 -c 'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null)
  roots+=(/usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib
          /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/local/lib /opt)
  for name in "${names[@]}"; do expression+=(-o -name "$name"); done
  local existing=()
  for r in "${roots[@]}"; do [ -d "$r" ] && existing+=("$r"); done
  found="$(timeout 60 find "${existing[@]}" \( "${expression[@]:1}" \) 2>/dev/null)"
  local missing=() dirs=() path
  : >"$work/cuda-libs.found"
  for name in "${names[@]}"; do
    path="$(grep -m 1 "/$name\$" <<<"$found")"
    if [ -z "$path" ]; then
      path="$(timeout 60 find / -xdev -name "$name" -print -quit 2>/dev/null)"
    fi
    if [ -z "$path" ]; then
      missing+=("$name")
      continue
    fi
    printf '%s\t%s\n' "$name" "$path" >>"$work/cuda-libs.found"
    dirs+=("$(dirname "$path")")
  done
  python3 - "$work/cuda-libs.found" "$work/setup.json" "${missing[@]}" <<'EOF'
import json, sys
found = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip())
json.dump({"cuda_libraries": found, "missing": sys.argv[3:]}, open(sys.argv[2], "w"), indent=2)
EOF
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "not found on this machine: ${missing[*]}"
    return 1
  fi
  ATTNSCALE_CUDA_LIBS="$(printf '%s\n' "${dirs[@]}" | awk '!seen[$0]++' | paste -sd:)"
  export ATTNSCALE_CUDA_LIBS
  echo "CUDA libraries from: $ATTNSCALE_CUDA_LIBS"
}

setup_start=$SECONDS
if [ -e "$bundle_source/gpu-bundle.tar.xz" ] || [ -x "$bundle_source/bin/attnscale" ]; then
  {
    unpack_bundle && find_cuda_libraries && cp "$bundle/MANIFEST.json" "$work/manifest.json" &&
      "$bundle/bin/attnscale" version
  } >"$work/setup.log" 2>&1
  code=$?
  bin="$bundle/bin"
  configs="$bundle/configs"
  set_info programs "bundle $bundle_source (commit $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["commit"])' "$work/manifest.json" 2>/dev/null))"
else
  # No bundle: build here (the project's dependencies must be installed).
  build="$root/build-gpu"
  {
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCALE_CUDA=ON \
      -DATTNSCALE_CUDA_ARCHITECTURES="$arch" &&
      cmake --build "$build" -j "$(nproc)" --target attnscale_app test_gpu test_comm bench_gpu_attention &&
      "$build/bin/attnscale" version
  } >"$work/setup.log" 2>&1
  code=$?
  bin="$build/bin"
  configs="$root/configs"
  set_info programs "built in $build"
  deadline=$((SECONDS + budget))  # the budget counts from the built programs
fi
cat "$work/setup.log" >>"$log"
if [ "$code" -ne 0 ]; then
  "${report[@]}" step "$steps" setup fail $((SECONDS - setup_start)) "$(tail -n 5 "$work/setup.log")" "$work/setup.json"
  finish fail 1 "setup failed: see gpu-smoke.log"
fi
"${report[@]}" step "$steps" setup pass $((SECONDS - setup_start)) "$(grep -E '^(cuBLAS|cuDNN|NCCL|GPUs)' "$work/setup.log" | paste -sd';')" "$work/setup.json"
echo "gpu-smoke: setup: pass ($((SECONDS - setup_start)) s)"

# ---- the steps ------------------------------------------------------------------------------------
export bin configs work results root

# report_gtest PROGRAM NAME [--all-must-run] [GTEST ARGS...]: a GoogleTest program, summarised.
report_gtest() {
  local program="$1" name="$2" must=()
  shift 2
  if [ "${1:-}" = "--all-must-run" ]; then must=(--all-must-run); shift; fi
  "$bin/$program" --gtest_output="json:$work/$name.gtest.json" "$@"
  local code=$?
  echo "---- $program: summary"
  python3 "$root/scripts/gpu_smoke_report.py" gtest "$work/$name.gtest.json" "$work/$name.json" "${must[@]}" &&
    [ "$code" -eq 0 ]
}

# train_both: quickstart for 20 steps on each device; the losses compared.
train_both() {
  local common=(train.steps=20 train.log_every=1 train.eval_every=0 checkpoint.every=0 logging.progress=off)
  for device in cpu cuda; do
    rm -rf "$work/train_$device"
    "$bin/attnscale" train "$configs/quickstart.yaml" "${common[@]}" run.device=$device \
      run.dir="$work/train_$device" || return 1
  done
  python3 "$root/scripts/gpu_smoke_report.py" losses "$work/train_cpu/metrics.jsonl" \
    "$work/train_cuda/metrics.jsonl" "$work/train.json"
}
export -f report_gtest train_both

# op_check needs h5py and numpy: the first python3 that has them.
op_check_python=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import h5py, numpy' 2>/dev/null; then op_check_python="$candidate"; break; fi
done

run_step gpu_tests 80 report_gtest test_gpu gpu_tests --all-must-run
cp "$work/gpu_tests.gtest.json" "$results/gpu_tests.json" 2>/dev/null
run_step nccl 20 report_gtest test_comm nccl --all-must-run --gtest_filter='NcclCommunicator.*'
if [ -n "$op_check_python" ]; then
  run_step op_check 50 "$op_check_python" "$root/scripts/gpu_smoke_op_check.py" "$bin/attnscale" \
    "$work/op_check" --json "$work/op_check.json"
else
  "${report[@]}" step "$steps" op_check fail 0 "no python3 with h5py and numpy here"
  failed=1
fi
run_step train 75 train_both
run_step bench 45 "$bin/bench_gpu_attention" --json "$work/bench.json"
cp "$work/bench.json" "$results/bench_gpu_attention.json" 2>/dev/null

if [ "$failed" -ne 0 ]; then finish fail 1 "a step failed"; fi
finish pass 0
