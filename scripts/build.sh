#!/usr/bin/env bash
# Configures and builds attnscale in build/ (Release, warnings as errors). Extra arguments go to cmake.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNSCALE_WERROR=ON "$@" >/dev/null
cmake --build build -j "$(nproc)"
