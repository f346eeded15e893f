#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test through CTest (unit tests and the MPI
# tests under mpirun with 2, 3 and 4 ranks).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
scripts/build.sh
# mpirun refuses to run as root unless told; CI and fresh machines run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
