#!/usr/bin/env bash
# Configures and builds attnscale (Release, warnings as errors). Extra arguments go to cmake.
#   scripts/build.sh              build/: the CPU backend, and the CUDA backend with nvcc when found
#   scripts/build.sh --emulation  build-emu/: the CUDA backend on the host emulator (ATTNSCALE_CUDA_EMULATION):
#                                 the ops' CUDA paths and run.device: cuda run on the CPU
#   scripts/build.sh --gpu-bundle build-bundle/: the CUDA backend (nvcc, sm_80 and sm_90) for another
#                                 machine: portable CPU code (x86-64-v3, AVX-512 only where chosen at
#                                 run time) and the CUDA runtime linked statically (scripts/gpu-bundle.sh)
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
elif [ "${1:-}" = "--gpu-bundle" ]; then
  shift
  dir=build-bundle
  options=(-DATTNSCALE_CUDA=ON -DATTNSCALE_CUDA_ARCHITECTURES="80;90" -DATTNSCALE_NATIVE=OFF
           -DATTNSCALE_CUDA_STATIC_RUNTIME=ON)
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCALE_WERROR=ON "${options[@]}" "$@" >/dev/null
targets=()
for t in ${ATTNSCALE_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
