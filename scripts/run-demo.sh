#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the main job: a TransformerLM trained from scratch on
# 2048-token sequences of the embedded copy task, each sequence sharded over 2 MPI ranks with ring
# attention (configs/long_context.yaml). It prints loss, tokens/s, ETA, held-out accuracy and the
# share of the ring's communication hidden behind compute. Extra arguments are config overrides,
# e.g. scripts/run-demo.sh train.steps=50
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
scripts/build.sh
mpi_flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi_flags+=(--allow-run-as-root)
exec mpirun -np 2 "${mpi_flags[@]}" build/bin/attnscale train configs/long_context.yaml "$@"
