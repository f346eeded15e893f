#!/usr/bin/env bash
# Configures and builds attnscale (Release, warnings as errors). Extra arguments go to cmake.
#   scripts/build.sh              build/: the CPU backend, and the CUDA backend with nvcc when found
#   scripts/build.sh --emulation  build-emu/: the CUDA backend on the host emulator (ATTNSCALE_CUDA_EMULATION):
#                                 the ops' CUDA paths and run.device: cuda run on the CPU
# ATTNSCALE_BUILD_TARGETS="t1 t2" builds only those targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dir=build
options=()
if [ "${1:-}" = "--emulation" ]; then
  shift
  dir=build-emu
  options=(-DATTNSCALE_CUDA_EMULATION=ON)
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCALE_WERROR=ON "${options[@]}" "$@" >/dev/null
targets=()
for t in ${ATTNSCALE_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
