#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the main job: a TransformerLM trained from scratch on
# the embedded synthetic task (configs/quickstart.yaml). Extra arguments are config overrides,
# e.g. scripts/run-demo.sh train.steps=100
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/install-deps.sh
scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec build/bin/attnscale train configs/quickstart.yaml "$@"
