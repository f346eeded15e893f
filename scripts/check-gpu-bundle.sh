#!/usr/bin/env bash
# Checks the bundle of scripts/gpu-bundle.sh on this machine, no GPU needed, as a GPU host with only
# the driver and the CUDA libraries will see it:
#
#   scripts/check-gpu-bundle.sh       (after scripts/gpu-bundle.sh; as root: it uses a mount namespace)
#
# 1. libraries: gpu-bundle/gpu-bundle.tar.xz unpacked; with a clean environment and only the bundle's
#    lib/ on LD_LIBRARY_PATH (env -i ... ldd), every program, library and Open MPI component finds
#    each library it needs in lib/, except glibc's and the CUDA libraries of cuda-libs.txt.
# 2. scripts/gpu-smoke.sh with this bundle exits 77 here (no GPU) and writes gpu-smoke.json.
# 3. the host's libraries hidden: in a mount namespace where /usr/lib/x86_64-linux-gnu holds glibc
#    alone, Open MPI's folders, orted and /usr/local/cuda are hidden and the CUDA libraries are
#    offered from another folder (as the GPU host's wheels are), the bundle runs `attnscale version`,
#    test_comm's one-rank tests (MPI singleton, NCCL), op-check attention on the CPU (the same
#    results as build-bundle/bin/attnscale outside), 3 training steps of configs/quickstart.yaml
#    (MPI, HDF5 checkpoint, OpenBLAS), run.device=cuda exiting 2, test_gpu and bench_gpu_attention
#    skipping; and, with strace, opens no library outside the bundle, glibc and that CUDA folder.
# 4. no AVX-512 needed: no object file of build-bundle/ but the AVX-512 SIMD kernels' holds an
#    AVX-512 instruction (objdump), that one defines no weak symbol (which the linker could pick for
#    other callers), and under valgrind, whose CPU has no AVX-512, ATTNSCALE_ISA=avx512 is refused
#    and the op-check of 3 (our kernels and OpenBLAS on their AVX2 paths) agrees with it.
# Exit 0 every check passed, 1 one failed, 77 cannot run here (not root, no unshare, a GPU present:
# then run scripts/gpu-smoke.sh itself).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packed="$root/gpu-bundle/gpu-bundle.tar.xz"
build="$root/build-bundle"
glibc_dir=/usr/lib/x86_64-linux-gnu
cuda_dir=/usr/local/cuda/lib

[ -f "$packed" ] || { echo "no $packed: run scripts/gpu-bundle.sh first"; exit 1; }
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
  echo "needs root and unshare (a mount namespace hides the host's libraries)"
  exit 77
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "a GPU is present: run scripts/gpu-smoke.sh itself"
  exit 77
fi
python=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import h5py, numpy' 2>/dev/null; then python="$candidate"; break; fi
done
[ -n "$python" ] || { echo "needs a python3 with h5py and numpy (scripts/install-deps.sh)"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failed=0
check() {  # check NAME COMMAND...: runs a check, prints its verdict and its last line
  local name="$1"
  shift
  if "$@" >"$tmp/$name.log" 2>&1; then
    echo "ok   $name: $(tail -n 1 "$tmp/$name.log")"
  else
    echo "FAIL $name"
    sed 's/^/     /' "$tmp/$name.log" | tail -n 20
    failed=1
  fi
}

tar -C "$tmp" -xJf "$packed" || exit 1
# glibc's libraries (Debian's package libc6): the one part of the host the bundle relies on.
mkdir -p "$tmp/glibc"
for f in $(dpkg -L libc6 | grep -E '^(/usr)?/lib/x86_64-linux-gnu/[^/]+\.so'); do cp -a "$f" "$tmp/glibc/"; done
bundle="$tmp/gpu-bundle"
echo "bundle $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["commit"], m["built_at"])' "$bundle/MANIFEST.json")"

# ---- 1. every library resolves from the bundle ----------------------------------------------------
libraries_resolve() {
  local cuda bad=0 file name arrow path
  cuda="^($(paste -sd'|' "$bundle/cuda-libs.txt" | sed 's/\./\\./g'))$"
  for file in "$bundle"/libexec/* "$bundle"/lib/*.so* "$bundle"/mpi/components/*.so; do
    while read -r name arrow path _; do
      [ "$arrow" = "=>" ] || continue
      if [[ $name =~ $cuda ]] || [ -e "$tmp/glibc/$name" ]; then continue; fi
      if [ "$path" != "$bundle/lib/$name" ]; then
        echo "${file#"$bundle"/}: $name => $path"
        bad=1
      fi
    done < <(env -i LD_LIBRARY_PATH="$bundle/lib" ldd "$file" 2>&1)
  done
  echo "$(ls "$bundle"/libexec | wc -l) programs, $(ls "$bundle"/lib | wc -l) libraries, $(ls "$bundle"/mpi/components | wc -l) Open MPI components checked"
  return "$bad"
}
check libraries_resolve libraries_resolve

# ---- 2. the smoke script without a GPU -------------------------------------------------------------
smoke_exits_77() {
  local code
  ATTNSCALE_GPU_BUNDLE="$bundle" bash "$root/scripts/gpu-smoke.sh" "$tmp/smoke"
  code=$?
  [ "$code" -eq 77 ] || { echo "expected exit 77 without a GPU, got $code"; return 1; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["status"]=="no_gpu" and r["reason"], r; print(r["reason"])' \
    "$tmp/smoke/gpu-smoke.json"
}
check smoke_exits_77 smoke_exits_77

# ---- 3. the host's libraries hidden ---------------------------------------------------------------
# The op-check input (mask causal, N != M, GQA) and the reference output of the unbundled program.
"$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import gpu_smoke_op_check as g; g.write_case(sys.argv[2], 96, 80, 32, {"mask": "causal"})' \
  "$root/scripts" "$tmp/op_check.h5" || exit 1
"$build/bin/attnscale" op-check attention --input "$tmp/op_check.h5" --output "$tmp/op_check.reference.h5" >/dev/null || exit 1

mkdir -p "$tmp/cuda-libs" "$tmp/out"
# Runs in the namespace: builtins and the bundle's programs only (nothing else finds its libraries).
cat >"$tmp/hidden.sh" <<'EOF'
b="$1"; out="$2"; cfg="$b/configs/quickstart.yaml"
export ATTNSCALE_CUDA_LIBS="$3"
run() { local name="$1"; shift; "$@" >"$out/$name.log" 2>&1; echo "$name $?" >>"$out/codes"; }
run version "$b/bin/attnscale" version
run comm "$b/bin/test_comm" --gtest_filter='SingleRank.*:NcclCommunicator.*'
run op_check "$b/bin/attnscale" op-check attention --input "$out/../op_check.h5" --output "$out/op_check.h5"
run train "$b/bin/attnscale" train "$cfg" train.steps=3 train.log_every=1 train.eval_every=0 \
  checkpoint.every=3 run.dir="$out/run"
run train_cuda "$b/bin/attnscale" train "$cfg" train.steps=3 run.device=cuda run.dir="$out/run_cuda"
run test_gpu "$b/bin/test_gpu" --gtest_filter='*Attention*'
run bench "$b/bin/bench_gpu_attention" --quick --repeats 1
EOF
tracer=()
command -v strace >/dev/null && tracer=(strace -f -qq -e trace=openat -e status=successful -o "$tmp/opened.txt")
"${tracer[@]}" unshare --mount --propagation private bash -c '
  set -e
  mount --bind "$1" "$2/cuda-libs"
  mount -t tmpfs none /usr/local/cuda
  for d in /etc/openmpi /usr/share/openmpi; do [ -d "$d" ] && mount -t tmpfs none "$d"; done
  [ -e /usr/bin/orted ] && mount --bind /dev/null /usr/bin/orted
  mount --bind "$2/glibc" "$3"
  set +e
  . "$2/hidden.sh" "$4" "$2/out" "$2/cuda-libs"' hide "$cuda_dir" "$tmp" "$glibc_dir" "$bundle"

expect_code() {  # expect_code NAME CODE [TEXT]: the run NAME exited CODE and printed TEXT
  local got
  got="$(awk -v n="$1" '$1 == n {print $2}' "$tmp/out/codes" 2>/dev/null)"
  [ "$got" = "$2" ] || { echo "$1: exit ${got:-none}, expected $2"; tail -n 15 "$tmp/out/$1.log"; return 1; }
  [ -z "${3:-}" ] || grep -q -- "$3" "$tmp/out/$1.log" || { echo "$1: no '$3' in its output"; tail -n 15 "$tmp/out/$1.log"; return 1; }
  tail -n 1 "$tmp/out/$1.log"
}
check hidden_version expect_code version 0 "cuBLAS: compiled"
check hidden_mpi_and_nccl_tests expect_code comm 0 "PASSED"
check hidden_op_check_cpu expect_code op_check 0
same_as_reference() {
  "$python" - "$root/scripts" "$tmp/op_check.reference.h5" "$1" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import gpu_smoke_op_check as g
problems = g.compare("bundle", sys.argv[2], sys.argv[3])
print("; ".join(problems) if problems else "out, lse, dq, dk, dv agree with build-bundle/bin/attnscale")
sys.exit(1 if problems else 0)
EOF
}
check hidden_op_check_matches same_as_reference "$tmp/out/op_check.h5"
check hidden_train_cpu expect_code train 0 "done: 3 steps"
checkpoint_written() {
  local found
  found="$(find "$tmp/out/run" -name '*.h5' | head -n 1)"
  [ -n "$found" ] || { echo "no checkpoint (*.h5) in the run directory"; return 1; }
  echo "${found#"$tmp/out/"}"
}
check hidden_train_checkpoint checkpoint_written
check hidden_train_cuda_refused expect_code train_cuda 2 "CUDA"
check hidden_test_gpu_loads expect_code test_gpu 0 "SKIPPED"
check hidden_bench_no_gpu expect_code bench 77
only_bundle_libraries_opened() {
  [ -s "$tmp/opened.txt" ] || { echo "strace not installed: not checked"; return 0; }
  local outside
  outside="$(grep -oE '"[^"]+\.so[.0-9]*"' "$tmp/opened.txt" | tr -d '"' | sort -u |
    grep -vE "^($tmp/(gpu-bundle|cuda-libs)/|$glibc_dir/|/lib/x86_64-linux-gnu/|/lib64/ld-linux)" || true)"
  # glibc's folder held glibc alone in the namespace, so any library opened there is glibc's.
  [ -z "$outside" ] || { echo "opened outside the bundle: $outside"; return 1; }
  echo "$(grep -oE '"[^"]+\.so[.0-9]*"' "$tmp/opened.txt" | sort -u | wc -l) libraries opened, all from the bundle, glibc or the CUDA folder"
}
check hidden_only_bundle_libraries only_bundle_libraries_opened

# ---- 4. no AVX-512 outside the AVX-512 kernels -----------------------------------------------------
no_avx512_outside_its_kernels() {
  # Operands: zmm and mask registers, registers 16-31, embedded broadcasts; or an AVX-512-only
  # mnemonic (right after the tab: AVX2's vmaskmovps is no kmov).
  local tab=$'\t'
  local avx512="%zmm|%k[0-7]|%[xy]mm(1[6-9]|2[0-9]|3[01])|\\{1to|$tab(k(mov|or|and|andn|xor|xnor|not|shift[lr]|test|ortest|add|unpck)[bwdq]*|vpternlog|vperm[it]2|vcompress|vexpand|vrndscale|vgetexp|vgetmant|vscalef|vfixupimm|vfpclass|vpro[lr]|vpsraq|vpabsq|vpm(ax|in)[su]q|vpmullq|vpmovm2|vcvtu|vcvtt?p[sd]2u)"
  local kernels="$build/CMakeFiles/attnscale.dir/kernels/cpu/simd_avx512.cpp.o" object count=0 bad=0 shared
  [ -f "$kernels" ] || { echo "no $kernels"; return 1; }
  # Every object of the four programs but the AVX-512 kernels' own holds no AVX-512 instruction...
  while IFS= read -r object; do
    [ "$object" = "$kernels" ] && continue
    count=$((count + 1))
    if objdump -d --no-show-raw-insn "$object" | grep -Eq "$avx512"; then
      echo "AVX-512 instructions in ${object#"$build"/}"
      bad=1
    fi
  done < <(find "$build/CMakeFiles" "$build/tests/CMakeFiles" -name '*.o')
  # ...and the kernels' object defines no weak (COMDAT) function, which the linker could choose for
  # the callers in other objects: all its code is its own, run only when the CPU has AVX-512.
  shared="$(nm -C --defined-only "$kernels" | awk '$2 ~ /^[WVu]$/')"
  if [ -n "$shared" ]; then
    echo "simd_avx512.cpp.o defines weak symbols that other objects may end up calling:"
    echo "$shared" | head -n 10
    bad=1
  fi
  grep -Eq "$avx512" < <(objdump -d --no-show-raw-insn "$kernels") ||
    { echo "no AVX-512 instruction found in simd_avx512.cpp.o: the pattern is wrong"; bad=1; }
  echo "$count objects without AVX-512; simd_avx512.cpp.o has AVX-512 and no weak symbols"
  return "$bad"
}
check no_avx512_outside_its_kernels no_avx512_outside_its_kernels
op_check_without_avx512() {
  command -v valgrind >/dev/null || { echo "valgrind not installed: not checked"; return 0; }
  (
    ATTNSCALE_BUNDLE="$bundle"
    . "$bundle/env.sh"
    # valgrind's CPU has no AVX-512: asking for the AVX-512 kernels is refused (exit 2)...
    ATTNSCALE_ISA=avx512 valgrind -q "$bundle/libexec/attnscale" op-check attention \
      --input "$tmp/op_check.h5" --output "$tmp/op_check.refused.h5" >"$tmp/isa.log" 2>&1
    [ $? -eq 2 ] && grep -q "does not support avx512" "$tmp/isa.log" ||
      { echo "under valgrind, ATTNSCALE_ISA=avx512 was not refused:"; tail -n 3 "$tmp/isa.log"; exit 1; }
    # ...and the automatic choice runs.
    valgrind -q --error-exitcode=0 "$bundle/libexec/attnscale" op-check attention \
      --input "$tmp/op_check.h5" --output "$tmp/op_check.valgrind.h5"
  ) || return 1
  same_as_reference "$tmp/op_check.valgrind.h5"
}
check op_check_without_avx512 op_check_without_avx512

if [ "$failed" -ne 0 ]; then
  echo "check-gpu-bundle: FAILED"
  exit 1
fi
echo "check-gpu-bundle: every check passed"
