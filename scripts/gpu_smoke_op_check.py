#!/usr/bin/env python3
"""op-check on the CPU and on the GPU for the masks that matter, compared (scripts/gpu-smoke.sh).

    gpu_smoke_op_check.py ATTNSCALE_PROGRAM WORK_DIR

Each case writes WORK_DIR/<case>.h5 (float32 q, k, v, dout and the mask datasets of kernels/README.md),
runs `attnscale op-check attention` without and with `--device cuda`, and compares out, lse, dq, dk
and dv: a NaN anywhere, a -inf lse on one device only, or a difference above the tolerance fails.
Exit 0 when every case agrees, 1 otherwise.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

ATOL, RTOL = 2e-4, 2e-4  # fp32 on both devices; the sums run in different orders


def write_case(path, n, m, d, attrs, extra=None, seed=0):
    rng = np.random.default_rng(seed)
    b, hq, hkv = 2, 4, 2
    with h5py.File(path, "w") as f:
        f["q"] = rng.standard_normal((b, hq, n, d), dtype=np.float32)
        f["k"] = rng.standard_normal((b, hkv, m, d), dtype=np.float32)
        f["v"] = rng.standard_normal((b, hkv, m, d), dtype=np.float32)
        f["dout"] = rng.standard_normal((b, hq, n, d), dtype=np.float32)
        for name, value in (extra or {}).items():
            f[name] = value
        for name, value in attrs.items():
            f.attrs[name] = value


def cases(work):
    n = 384
    segments = np.repeat(np.array([[0] * 150 + [1] * 234]), 2, axis=0).astype(np.int32)
    k_valid = np.ones((2, n), dtype=np.int32)
    k_valid[:, 0] = 0  # with a causal mask, query 0 sees only key 0: a fully masked row
    return {
        "causal": (n, n, 128, {"mask": "causal"}, None),
        "window": (n, n, 64, {"mask": "window", "window_left": 100, "window_right": 0}, None),
        "segments": (n, n, 64, {"mask": "causal"}, {"q_segment": segments, "k_segment": segments}),
        "uneven": (200, 333, 64, {"mask": "none"}, None),
        "masked_row": (n, n, 64, {"mask": "causal"}, {"k_valid": k_valid}),
    }


def compare(name, cpu_file, gpu_file):
    problems = []
    with h5py.File(cpu_file) as cpu, h5py.File(gpu_file) as gpu:
        for key in ("out", "lse", "dq", "dk", "dv"):
            a, b = np.asarray(cpu[key], dtype=np.float64), np.asarray(gpu[key], dtype=np.float64)
            if np.isnan(a).any() or np.isnan(b).any():
                problems.append(f"{key}: NaN")
                continue
            a_inf, b_inf = np.isinf(a), np.isinf(b)
            if (a_inf != b_inf).any() or (a[a_inf] != b[b_inf]).any():
                problems.append(f"{key}: infinities differ")
                continue
            diff = np.abs(a[~a_inf] - b[~b_inf])
            limit = ATOL + RTOL * np.abs(a[~a_inf])
            if (diff > limit).any():
                problems.append(f"{key}: max |cpu - cuda| {diff.max():.3e}")
        if name == "masked_row":
            lse, out = np.asarray(gpu["lse"]), np.asarray(gpu["out"])
            if not (np.isneginf(lse[:, :, 0]).all() and (out[:, :, 0] == 0).all()):
                problems.append("the fully masked row is not lse = -inf, out = 0")
    return problems


def main():
    program, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failed = False
    for name, (n, m, d, attrs, extra) in cases(work).items():
        src = os.path.join(work, f"{name}.h5")
        write_case(src, n, m, d, attrs, extra)
        outputs = {}
        for device in ("cpu", "cuda"):
            outputs[device] = os.path.join(work, f"{name}.{device}.h5")
            cmd = [program, "op-check", "attention", "--input", src, "--output", outputs[device]]
            if device == "cuda":
                cmd += ["--device", "cuda"]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{name} ({device}): exit {run.returncode}: {run.stderr.strip()[-400:]}")
                failed = True
                break
        else:
            problems = compare(name, outputs["cpu"], outputs["cuda"])
            print(f"{name}: {'agree' if not problems else '; '.join(problems)}")
            failed = failed or bool(problems)
    print("op-check: every case agrees" if not failed else "op-check: FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
