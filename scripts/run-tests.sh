#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test through CTest (unit tests and the MPI
# tests under mpirun with 2, 3 and 4 ranks). Then builds the CUDA backend on the host emulator
# (build-emu/, scripts/build.sh --emulation; only the targets its tests need) and runs its device
# tests (label gpu): the ops' CUDA paths, training with run.device: cuda, and the parallel algorithms
# on device tensors under mpirun (tests/mpi_gpu), on the emulated device.
# ATTNSCALE_SKIP_EMULATION=1 leaves the second build out.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
scripts/build.sh
# mpirun refuses to run as root unless told; CI and fresh machines run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
if [ "${ATTNSCALE_SKIP_EMULATION:-0}" != 1 ]; then
  ATTNSCALE_BUILD_TARGETS="test_gpu test_mpi_gpu" scripts/build.sh --emulation
  ctest --test-dir build-emu --output-on-failure -j "$(nproc)" -L gpu
fi
