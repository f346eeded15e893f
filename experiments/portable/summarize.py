#!/usr/bin/env python3
"""Summarises experiments/portable/measure.sh's runs as JSON: for every bench_attention case the best
GFLOP/s over the rounds of each run (before: the build before the dispatch; after: with it, AVX-512
variant; avx2: with it, ATTNSCALE_ISA=avx2), the ratios after/before and avx2/after, their
geometric means, and the same for the fastest bench_long_step training step.
usage: summarize.py OUT_DIR ROUNDS"""
import json
import math
import sys

out, rounds = sys.argv[1], int(sys.argv[2])
runs = ("before", "after", "avx2")


def load(kind, run, r):
    with open(f"{out}/{kind}-{run}-{r}.json") as f:
        return json.load(f)


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


cases = {}
for run in runs:
    for r in range(1, rounds + 1):
        for c in load("attention", run, r)["attention"]:
            key = f'n{c["n"]}_d{c["d"]}_{c["mask"]}'
            best = cases.setdefault(key, {}).setdefault(run, {"forward_gflops": 0.0, "forward_backward_gflops": 0.0})
            for metric in best:
                best[metric] = max(best[metric], c[metric])
ratios = {"after_over_before": {}, "avx2_over_after": {}}
for key, by_run in cases.items():
    for metric in ("forward_gflops", "forward_backward_gflops"):
        by_run.setdefault("after_over_before", {})[metric] = by_run["after"][metric] / by_run["before"][metric]
        by_run.setdefault("avx2_over_after", {})[metric] = by_run["avx2"][metric] / by_run["after"][metric]
for name in ratios:
    for metric in ("forward_gflops", "forward_backward_gflops"):
        ratios[name][metric] = geomean([c[name][metric] for c in cases.values()])

step = {run: min(s["total_s"] for r in range(1, rounds + 1) for s in load("step", run, r)["sharded_steps"])
        for run in runs}
print(json.dumps({
    "rounds": rounds,
    "attention_best_of_rounds": cases,
    "attention_geomean_ratio": ratios,
    "train_step_best_s": step,
    "train_step_speed_ratio": {"after_over_before": step["before"] / step["after"],
                               "avx2_over_after": step["after"] / step["avx2"]},
}, indent=1, sort_keys=True))
