#!/usr/bin/env python3
"""op-check on the CPU and on the GPU for the masks that matter, compared (scripts/gpu-smoke.sh).

    gpu_smoke_op_check.py ATTNSCALE_PROGRAM WORK_DIR [--json RESULTS]

Each case writes WORK_DIR/<case>.h5 (float32 q, k, v, dout and the mask datasets of kernels/README.md),
runs `attnscale op-check attention` without and with `--device cuda`, and compares out, lse, dq, dk
and dv: a NaN anywhere, a -inf lse on one device only, or a difference above the tolerance fails.
Where this python3 has PyTorch with a usable GPU, each case is also computed by PyTorch in float64
on the GPU (plain matrix products and logsumexp: an independent reference, written to
<case>.torch.h5) and the --device cuda results are compared with it the same way.
Exit 0 when every case agrees, 1 otherwise. RESULTS (JSON): each case's shape, mask and problems.
"""
import json
import math
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


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def torch_reference(torch, src, dst):
    """Writes out, lse, dq, dk, dv of the case in src, computed by PyTorch in float64 on the GPU."""
    cuda = torch.device("cuda")
    with h5py.File(src) as f:
        q, k, v, dout = (torch.tensor(np.asarray(f[n]), dtype=torch.float64, device=cuda)
                         for n in ("q", "k", "v", "dout"))
        attrs = {name: (value.decode() if isinstance(value, bytes) else value) for name, value in f.attrs.items()}
        segments = [torch.tensor(np.asarray(f[n]), device=cuda) for n in ("q_segment", "k_segment") if n in f]
        k_valid = torch.tensor(np.asarray(f["k_valid"]), device=cuda) if "k_valid" in f else None
    b, hq, n, d = q.shape
    hkv, m = k.shape[1], k.shape[2]
    i = torch.arange(n, device=cuda)[:, None]
    j = torch.arange(m, device=cuda)[None, :]
    allowed = torch.ones(b, 1, n, m, dtype=torch.bool, device=cuda)
    if attrs.get("mask") == "causal":
        allowed &= j <= i
    elif attrs.get("mask") == "window":
        allowed &= (j >= i - int(attrs["window_left"])) & (j <= i + int(attrs["window_right"]))
    if segments:
        allowed &= segments[0][:, None, :, None] == segments[1][:, None, None, :]
    if k_valid is not None:
        allowed &= (k_valid != 0)[:, None, None, :]
    any_key = allowed.any(-1, keepdim=True)
    for t in (q, k, v):
        t.requires_grad_()
    group = hq // hkv  # query head h reads kv head h / (Hq / Hkv)
    scores = q @ k.repeat_interleave(group, 1).transpose(-1, -2) / math.sqrt(d)
    # Rows with no allowed key: finite scores, so that no NaN enters the graph; out 0, lse -inf.
    scores = scores.masked_fill(~allowed, -math.inf).masked_fill(~any_key, 0.0)
    lse = torch.logsumexp(scores, -1, keepdim=True)
    p = torch.where(allowed, torch.exp(scores - lse), torch.zeros_like(scores))
    out = p @ v.repeat_interleave(group, 1)
    out.backward(dout)
    lse = lse.masked_fill(~any_key, -math.inf).squeeze(-1)
    with h5py.File(dst, "w") as f:
        for name, value in (("out", out), ("lse", lse), ("dq", q.grad), ("dk", k.grad), ("dv", v.grad)):
            f[name] = value.detach().cpu().numpy()


def main():
    program, work = sys.argv[1], sys.argv[2]
    results_file = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--json" else None
    os.makedirs(work, exist_ok=True)
    torch = torch_or_none()
    results = {}
    for name, (n, m, d, attrs, extra) in cases(work).items():
        src = os.path.join(work, f"{name}.h5")
        write_case(src, n, m, d, attrs, extra)
        outputs = {}
        problems = []
        for device in ("cpu", "cuda"):
            outputs[device] = os.path.join(work, f"{name}.{device}.h5")
            cmd = [program, "op-check", "attention", "--input", src, "--output", outputs[device]]
            if device == "cuda":
                cmd += ["--device", "cuda"]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                problems.append(f"{device}: exit {run.returncode}: {run.stderr.strip()[-400:]}")
                break
        else:
            problems = compare(name, outputs["cpu"], outputs["cuda"])
            if torch is not None:
                reference = os.path.join(work, f"{name}.torch.h5")
                try:
                    torch_reference(torch, src, reference)
                except Exception as error:  # the reference's failure is not the kernels'
                    print(f"{name}: the PyTorch reference failed: {error!r}")
                else:
                    problems += [f"against PyTorch: {p}" for p in compare(name, reference, outputs["cuda"])]
        print(f"{name}: {'agree' if not problems else '; '.join(problems)}")
        results[name] = {"n": n, "m": m, "d": d, **{k: str(v) for k, v in attrs.items()},
                         "problems": problems}
    failed = any(r["problems"] for r in results.values())
    if results_file:
        with open(results_file, "w") as f:
            json.dump({"atol": ATOL, "rtol": RTOL, "cases": results,
                       "pytorch_reference": torch.__version__ if torch is not None else "not available"}, f, indent=2)
    print("op-check: every case agrees" if not failed else "op-check: FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
