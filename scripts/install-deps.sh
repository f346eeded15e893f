#!/usr/bin/env bash
# Installs, with apt, every Debian package that attnscale's build, tests and demo need, and, where
# the CUDA toolkit is installed, the cuDNN frontend's C++ headers (not in Debian: they come from the
# PyPI wheel nvidia-cudnn-frontend, pinned below, unpacked into .deps/cudnn-frontend/include; CMake
# looks there, and builds cuDNN attention when they and cuDNN are present).
# Idempotent: when everything is present it checks with dpkg and the headers' version file and
# returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools libssl-dev
  libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-openmp-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libsentencepiece-dev  # subword vocabularies of `attnscale prepare pairs` (pulls libsentencepiece0)
  python3 python3-pip python3-numpy python3-h5py python3-matplotlib
  iproute2  # ip netns: the two-node test (tests/train/run_demo_test.sh netns)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-deps] installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- the cuDNN frontend's headers (only with the CUDA toolkit) ----------------------------------
cudnn_frontend_version=1.32.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
frontend="$root/.deps/cudnn-frontend"
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || exit 0
if grep -qs "^$cudnn_frontend_version\$" "$frontend/VERSION"; then
  exit 0
fi
echo "[install-deps] cuDNN frontend $cudnn_frontend_version headers (PyPI nvidia-cudnn-frontend) -> $frontend"
download="$(mktemp -d)"
trap 'rm -rf "$download"' EXIT
/usr/bin/python3 -m pip download --quiet --no-deps --disable-pip-version-check \
  "nvidia-cudnn-frontend==$cudnn_frontend_version" -d "$download"
rm -rf "$frontend"
mkdir -p "$frontend"
/usr/bin/python3 - "$download"/nvidia_cudnn_frontend-*.whl "$frontend" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("include/")])
PY
echo "$cudnn_frontend_version" > "$frontend/VERSION"
