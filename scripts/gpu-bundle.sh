#!/usr/bin/env bash
# Packs what scripts/gpu-smoke.sh runs for a GPU machine that holds only the NVIDIA driver and the
# CUDA libraries (cuBLAS, cuDNN, NCCL, NVRTC, e.g. as Python wheels): no MPI, HDF5, yaml-cpp or
# OpenBLAS there, no network, maybe no AVX-512. The GPU machines the `device` tool lends are such
# machines (README "GPU status" has the exact call).
#
#   scripts/gpu-bundle.sh            builds build-bundle/gpu-bundle/ and packs it into gpu-bundle/
#
# gpu-bundle/ (git ignores it; the folder to carry): gpu-bundle.tar.xz and MANIFEST.json.
# scripts/gpu-smoke.sh unpacks the archive into its work folder. Its tree, build-bundle/gpu-bundle/:
#   bin/PROGRAM    launchers: the environment of env.sh, then libexec/PROGRAM
#   libexec/       attnscale, test_gpu (the gpu tests), test_comm (NcclCommunicator at one rank) and
#                  bench_gpu_attention, built by `scripts/build.sh --gpu-bundle` (build-bundle/:
#                  nvcc for sm_80 and sm_90, x86-64-v3 CPU code whose SIMD kernels choose AVX-512 or
#                  AVX2 at run time, the CUDA runtime linked statically), stripped
#   lib/           every shared library they load (ldd) except glibc's and the CUDA libraries
#   mpi/           Open MPI's components (those a one-node run can use), help texts and settings:
#                  env.sh relocates Open MPI there and runs a singleton without mpirun or orted
#   configs/       the repository's configs
#   env.sh         LD_LIBRARY_PATH (lib/, then $ATTNSCALE_CUDA_LIBS) and Open MPI's relocation
#   cuda-libs.txt  the CUDA libraries the host must provide, one soname a line
#   MANIFEST.json  commit, build options, programs, libraries, `attnscale version`, sizes
# The CUDA runtime is linked statically (about 1 MB), so only the driver's libcuda.so.1 and the
# libraries of cuda-libs.txt (several hundred MB: never carried) come from the host. Unpacked the
# tree is about 100 MB (OpenBLAS alone, built for every x86 CPU, 37 MB); xz packs it to about 20.
# Fails when gpu-bundle/ exceeds ATTNSCALE_BUNDLE_LIMIT_MIB (default 60): the `device` tool carries
# at most 64 MiB of ignored paths and working tree together.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packed="$root/gpu-bundle"
limit_mib="${ATTNSCALE_BUNDLE_LIMIT_MIB:-60}"
build="$root/build-bundle"
bundle="$build/gpu-bundle"
programs=(attnscale test_gpu test_comm bench_gpu_attention)

# Libraries every host has (glibc's) or that the GPU host provides (the driver's, the CUDA wheels').
glibc_libs='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libutil|libnss_[a-z]+)\.so'
cuda_libs='^(libcuda|libcudart|libcublas|libcublasLt|libcudnn[a-z_]*|libnccl|libnvrtc[a-z-]*)\.so'
# Open MPI components for networks (UCX, libfabric, PSM, verbs), OpenSHMEM and the external PMIx:
# a singleton on one node uses none of them, and their libraries would double the bundle.
mpi_skip_deps='lib(oshmem|ucp|fabric|psm|psm2|psm_infinipath|ibverbs|pmix)\.so'

echo "[gpu-bundle] building build-bundle/ (${programs[*]})"
ATTNSCALE_BUILD_TARGETS="attnscale_app test_gpu test_comm bench_gpu_attention" \
  "$root/scripts/build.sh" --gpu-bundle

stage="$(mktemp -d "$bundle.staging.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,libexec,lib,configs} "$stage/mpi/components" "$stage/mpi/share" "$stage/mpi/etc" \
  "$stage/mpi/hwloc-plugins"

# collect_libraries FILE...: copies into lib/ every library the files load (ldd, transitively) but
# glibc's and the CUDA ones; the CUDA ones go to cuda-libs.txt. A library ldd cannot find fails.
collect_libraries() {
  local file name arrow path
  for file in "$@"; do
    while read -r name arrow path _; do
      [ "$arrow" = "=>" ] || continue
      if [[ $name =~ $cuda_libs ]]; then
        echo "$name" >>"$stage/cuda-libs.txt"
      elif [[ $name =~ $glibc_libs ]]; then
        continue
      elif [ "$path" = "not" ]; then
        echo "[gpu-bundle] $file needs $name, which ldd does not find" >&2
        return 1
      elif [ ! -e "$stage/lib/$name" ]; then
        cp -L "$path" "$stage/lib/$name"
      fi
    done < <(ldd "$file")
  done
}

for program in "${programs[@]}"; do
  strip --strip-unneeded -o "$stage/libexec/$program" "$build/bin/$program"
  cat >"$stage/bin/$program" <<'EOF'
#!/bin/sh
# Runs libexec/ of this bundle with its environment (env.sh). Shell builtins only: it also runs
# where the host's libraries are hidden (scripts/check-gpu-bundle.sh).
case "$0" in */*) ATTNSCALE_BUNDLE="${0%/*}/.." ;; *) ATTNSCALE_BUNDLE=.. ;; esac
ATTNSCALE_BUNDLE="$(cd "$ATTNSCALE_BUNDLE" && pwd -P)"
. "$ATTNSCALE_BUNDLE/env.sh"
exec "$ATTNSCALE_BUNDLE/libexec/${0##*/}" "$@"
EOF
  chmod +x "$stage/bin/$program"
done
collect_libraries "$stage"/libexec/*

# Open MPI, relocated: the components a singleton can load, their help texts and the site settings.
mpi_path() { ompi_info --path "$1" | awk '{print $2}'; }
skipped=0
for component in "$(mpi_path pkglibdir)"/mca_*.so; do
  if ldd "$component" | grep -Eq "$mpi_skip_deps"; then
    skipped=$((skipped + 1))
    continue
  fi
  cp -L "$component" "$stage/mpi/components/"
done
collect_libraries "$stage"/mpi/components/*.so
cp -rL "$(mpi_path pkgdatadir)" "$stage/mpi/share/openmpi"
cp -L "$(mpi_path sysconfdir)/openmpi-mca-params.conf" "$stage/mpi/etc/"
for library in "$stage"/lib/*.so*; do
  chmod u+w "$library"
  strip --strip-unneeded "$library"
done
sort -u -o "$stage/cuda-libs.txt" "$stage/cuda-libs.txt"
cp "$root"/configs/*.yaml "$stage/configs/"

cat >"$stage/env.sh" <<'EOF'
# The environment of the bundle's programs (sourced by bin/*, with ATTNSCALE_BUNDLE set to the
# bundle's folder). ATTNSCALE_CUDA_LIBS: the folders of the host's CUDA libraries (cuda-libs.txt).
LD_LIBRARY_PATH="$ATTNSCALE_BUNDLE/lib${ATTNSCALE_CUDA_LIBS:+:$ATTNSCALE_CUDA_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Open MPI from mpi/ instead of its build prefix (/usr); a singleton without orted (no mpirun here).
OPAL_PREFIX="$ATTNSCALE_BUNDLE/mpi"
OPAL_LIBDIR="$ATTNSCALE_BUNDLE/lib"
OPAL_PKGLIBDIR="$ATTNSCALE_BUNDLE/mpi/components"
OPAL_DATAROOTDIR="$ATTNSCALE_BUNDLE/mpi/share"
OPAL_DATADIR="$ATTNSCALE_BUNDLE/mpi/share"
OPAL_PKGDATADIR="$ATTNSCALE_BUNDLE/mpi/share/openmpi"
OPAL_SYSCONFDIR="$ATTNSCALE_BUNDLE/mpi/etc"
OMPI_MCA_ess_singleton_isolated=1
OMPI_MCA_pmix=isolated
# None of the host's hwloc plugins (another hwloc version's): an empty folder.
HWLOC_PLUGINS_PATH="$ATTNSCALE_BUNDLE/mpi/hwloc-plugins"
export ATTNSCALE_BUNDLE LD_LIBRARY_PATH OPAL_PREFIX OPAL_LIBDIR OPAL_PKGLIBDIR OPAL_DATAROOTDIR \
  OPAL_DATADIR OPAL_PKGDATADIR OPAL_SYSCONFDIR OMPI_MCA_ess_singleton_isolated OMPI_MCA_pmix \
  HWLOC_PLUGINS_PATH
EOF

# The manifest: what was built from what, and what the host must provide.
version="$("$build/bin/attnscale" version 2>&1 || true)"
commit="$(git -C "$root" rev-parse HEAD)"
git -C "$root" diff --quiet HEAD -- || commit="$commit (with uncommitted changes)"
python3 - "$stage" "$commit" "$version" "$skipped" <<'EOF'
import datetime, json, os, sys
stage, commit, version, skipped = sys.argv[1:5]
def files(folder):
    path = os.path.join(stage, folder)
    return {name: os.path.getsize(os.path.join(path, name)) for name in sorted(os.listdir(path))}
total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(stage) for f in fs)
manifest = {
    "commit": commit,
    "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "build": "scripts/build.sh --gpu-bundle: -DATTNSCALE_CUDA=ON -DATTNSCALE_CUDA_ARCHITECTURES=80;90 "
             "-DATTNSCALE_NATIVE=OFF -DATTNSCALE_CUDA_STATIC_RUNTIME=ON (Release)",
    "attnscale_version": version.splitlines(),
    "programs": files("libexec"),
    "libraries": files("lib"),
    "mpi_components": len(os.listdir(os.path.join(stage, "mpi/components"))),
    "mpi_components_skipped": int(skipped),
    "cuda_libraries_from_host": open(os.path.join(stage, "cuda-libs.txt")).read().split(),
    "bytes": total,
}
json.dump(manifest, open(os.path.join(stage, "MANIFEST.json"), "w"), indent=2)
EOF

rm -rf "$bundle"
mv "$stage" "$bundle"
trap - EXIT

# Packed: gpu-bundle/gpu-bundle.tar.xz (unpacks to gpu-bundle/...) and the manifest beside it.
rm -rf "$packed"
mkdir -p "$packed"
tar -C "$build" -cf - gpu-bundle | xz -9 -T2 >"$packed/gpu-bundle.tar.xz"
cp "$bundle/MANIFEST.json" "$packed/"
bytes="$(du -sb "$packed" | cut -f1)"
mib=$(((bytes + 1048575) / 1048576))
if [ "$mib" -gt "$limit_mib" ]; then
  echo "[gpu-bundle] gpu-bundle/ is $mib MiB, over the limit of $limit_mib MiB; the largest files unpacked:" >&2
  (cd "$bundle" && find . -type f -printf '%s %p\n' | sort -rn | head -n 10) >&2
  rm -rf "$packed"
  exit 1
fi
echo "[gpu-bundle] $packed: $mib MiB (limit $limit_mib; unpacked $(du -sh "$bundle" | cut -f1) in $bundle)"
echo "[gpu-bundle] the host must provide: $(tr '\n' ' ' <"$bundle/cuda-libs.txt")"
