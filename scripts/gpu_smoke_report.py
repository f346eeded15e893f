#!/usr/bin/env python3
"""The bookkeeping of scripts/gpu-smoke.sh: its steps, their figures and the results file.

    gpu_smoke_report.py step STEPS_FILE NAME STATUS SECONDS DETAIL [DATA_FILE]
        appends one step (DATA_FILE: the step's figures as JSON, when it wrote one)
    gpu_smoke_report.py finish STEPS_FILE RESULTS_FILE STATUS REASON [INFO_FILE]
        writes the results file: status, reason, the steps and INFO_FILE's keys (GPU, programs)
    gpu_smoke_report.py gtest GTEST_JSON DATA_FILE [--all-must-run]
        summarises a GoogleTest JSON report; exit 1 when a test failed, none passed, or (with
        --all-must-run) one was skipped
    gpu_smoke_report.py losses CPU_METRICS CUDA_METRICS DATA_FILE
        compares the first 20 training losses of two metrics.jsonl files; exit 1 when they differ
        by more than 2e-3 (relative), are not finite, or fewer than 20 were logged
"""
import json
import math
import sys

LOSS_STEPS, LOSS_RTOL = 20, 2e-3  # fp32 on both devices; the sums run in different orders


def step(steps_file, name, status, seconds, detail, data_file=None):
    entry = {"step": name, "status": status, "seconds": float(seconds), "detail": detail}
    if data_file:
        try:
            entry["data"] = json.load(open(data_file))
        except (OSError, ValueError):
            pass  # the step stopped before it wrote its figures
    with open(steps_file, "a") as f:
        f.write(json.dumps(entry) + "\n")


def finish(steps_file, results_file, status, reason, info_file=None):
    steps = [json.loads(line) for line in open(steps_file) if line.strip()]
    result = {"status": status}
    if reason:
        result["reason"] = reason
    if info_file:
        try:
            result.update(json.load(open(info_file)))
        except (OSError, ValueError):
            pass
    result["steps"] = steps
    json.dump(result, open(results_file, "w"), indent=2)


def gtest(report_file, data_file, *flags):
    report = json.load(open(report_file))
    passed, failed, skipped = [], [], []
    for suite in report.get("testsuites", []):
        for test in suite.get("testsuite", []):
            name = f"{suite['name']}.{test['name']}"
            if test.get("failures"):
                failed.append(name)
            elif test.get("result") == "SKIPPED" or test.get("status") == "NOTRUN":
                skipped.append(name)  # GoogleTest's JSON has no reason: gpu-smoke.log does
            else:
                passed.append(name)
    data = {"passed": len(passed), "failed": failed, "skipped": skipped}
    json.dump(data, open(data_file, "w"), indent=2)
    for name in failed:
        print(f"FAILED {name}")
    for name in skipped:
        print(f"SKIPPED {name}")
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")  # the step's detail line
    ok = not failed and passed and not ("--all-must-run" in flags and skipped)
    return 0 if ok else 1


def losses(cpu_metrics, cuda_metrics, data_file):
    def read(path):
        rows = (json.loads(line) for line in open(path) if line.strip())
        return [r["loss"] for r in rows if r.get("loss") is not None][:LOSS_STEPS]

    cpu, gpu = read(cpu_metrics), read(cuda_metrics)
    data = {"cpu": cpu, "cuda": gpu, "rtol": LOSS_RTOL}
    if len(cpu) < LOSS_STEPS or len(gpu) < LOSS_STEPS:
        json.dump(data, open(data_file, "w"), indent=2)
        print(f"expected {LOSS_STEPS} losses, got {len(cpu)} (cpu) and {len(gpu)} (cuda)")
        return 1
    finite = all(math.isfinite(a) and math.isfinite(b) for a, b in zip(cpu, gpu))
    worst = max(abs(a - b) / max(abs(a), 1e-6) for a, b in zip(cpu, gpu)) if finite else math.inf
    data["largest_relative_difference"] = worst if finite else None
    json.dump(data, open(data_file, "w"), indent=2)
    print(f"{LOSS_STEPS} losses: largest relative difference {worst:.2e} (limit {LOSS_RTOL:.0e}); "
          f"cpu {cpu[0]:.4f}->{cpu[-1]:.4f}, cuda {gpu[0]:.4f}->{gpu[-1]:.4f}")
    return 0 if finite and worst <= LOSS_RTOL else 1


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    sys.exit({"step": step, "finish": finish, "gtest": gtest, "losses": losses}[command](*args) or 0)
