#!/usr/bin/env bash
# Prints each CUDA kernel's registers, static shared memory and spills per architecture, as ptxas
# reports them (the build prints the same lines, mangled, with --resource-usage). Needs nvcc, no GPU.
#   scripts/cuda-resource-usage.sh [file.cu ...]     (default: every kernels/cuda/*.cu)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
nvcc="${NVCC:-nvcc}"
command -v "$nvcc" >/dev/null || { echo "cuda-resource-usage: nvcc not found" >&2; exit 2; }
sources=("$@")
[ ${#sources[@]} -gt 0 ] || sources=(kernels/cuda/*.cu)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf '%-8s %-6s %5s %10s %12s  %s\n' file arch regs smem_bytes spill_bytes kernel
for src in "${sources[@]}"; do
  name="$(basename "$src" .cu)"
  "$nvcc" -std=c++20 -O3 --expt-relaxed-constexpr -I. --resource-usage \
    --generate-code=arch=compute_80,code=sm_80 --generate-code=arch=compute_90,code=sm_90 \
    -c "$src" -o "$tmp/$name.o" >"$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log" >&2; exit 1; }
  # ptxas: "Compiling entry function 'NAME' for 'sm_XX'", then spills, then "Used N registers, ... M bytes smem".
  awk -v file="$name" -v q="'" '
    /Compiling entry function/ {
      kernel = $0; sub(".*function " q, "", kernel); sub(q " for.*", "", kernel)
      arch = $0; sub(".*for " q, "", arch); sub(q ".*", "", arch)
    }
    /spill stores/ && kernel != "" { spill = $5 + $9 }
    /Used [0-9]+ registers/ && kernel != "" {
      regs = $0; sub(/.*Used /, "", regs); sub(/ registers.*/, "", regs)
      smem = 0
      if ($0 ~ /bytes smem/) { smem = $0; sub(/ bytes smem.*/, "", smem); sub(/.* /, "", smem) }
      printf "%s\t%s\t%s\t%s\t%s\t%s\n", file, arch, regs, smem, spill, kernel
      kernel = ""
    }' "$tmp/$name.log"
done | c++filt | sed -E 's/attnscale::cuda::(device|host_emulation)::\(anonymous namespace\):://; s/\(anonymous namespace\):://g' |
  awk -F'\t' '{ printf "%-14s %-6s %5s %10s %12s  %s\n", $1, $2, $3, $4, $5, $6 }' | sort -k1,1 -k6 -k2,2
