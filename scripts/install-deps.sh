#!/usr/bin/env bash
# Installs, with apt, every Debian package that attnscale's build, tests and demo need.
# Idempotent: when everything is present it checks with dpkg and returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools libssl-dev
  libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-openmp-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  python3 python3-numpy python3-h5py python3-matplotlib
  iproute2  # ip netns: the two-node test (tests/train/run_demo_test.sh netns)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "[install-deps] installing: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
