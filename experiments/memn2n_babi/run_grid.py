#!/usr/bin/env python3
"""End-to-end memory networks on bAbI tasks 1-3: the rows of Sukhbaatar et al. (2015) Table 1 that
this framework runs, on the 1k sets `attnscale prepare babi` generates.

For every task and row it trains --seeds runs (one thread each, one at a time, under nice), picks
the run with the lowest validation error (the 100 held-out training questions), evaluates only that
run on the 1,000 test questions, and writes results.md (the table beside the paper's, the orderings
compared), results.json (every run) and attention.txt (the hop attention of the selected 3-hop PE LS
model on a few test stories) into --out.

  experiments/memn2n_babi/run_grid.py                  # the whole grid (about 15 x seeds runs)
  experiments/memn2n_babi/run_grid.py --tasks 1 --rows pe_ls --seeds 1   # one cell
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# name, label, overrides, the paper's column (Table 1, 1k training, error %)
ROWS = [
    ("bow", "BoW, 3 hops", ["memn2n.position_encoding=false", "memn2n.linear_start_steps=0"], "BoW"),
    ("pe", "PE, 3 hops", ["memn2n.linear_start_steps=0"], "PE"),
    ("pe_ls", "PE LS, 3 hops", [], "PE LS"),
    ("pe_ls_1hop", "PE LS, 1 hop", ["memn2n.hops=1"], "1 hop PE LS joint"),
    ("pe_ls_2hop", "PE LS, 2 hops", ["memn2n.hops=2"], "2 hops PE LS joint"),
    ("pe_ls_rn", "PE LS RN, 3 hops", ["memn2n.random_noise=0.1"], "PE LS RN"),
    ("pe_ls_lw", "PE LS LW, 3 hops", ["memn2n.tying=layerwise"], "PE LS LW joint"),
]
# Sukhbaatar et al. 2015, Table 1 (1k training questions per task): test error % of MemN2N.
# The 1/2/3-hop and LW columns are from joint training on all 20 tasks; the others per task.
PAPER = {
    1: {"BoW": 0.6, "PE": 0.1, "PE LS": 0.2, "PE LS RN": 0.0, "PE LS LW joint": 0.1, "1 hop PE LS joint": 0.8, "2 hops PE LS joint": 0.0,
        "3 hops PE LS joint": 0.1},
    2: {"BoW": 17.6, "PE": 21.6, "PE LS": 12.8, "PE LS RN": 8.3, "PE LS LW joint": 18.8, "1 hop PE LS joint": 62.0, "2 hops PE LS joint": 15.6,
        "3 hops PE LS joint": 14.0},
    3: {"BoW": 71.0, "PE": 64.2, "PE LS": 58.8, "PE LS RN": 40.3, "PE LS LW joint": 31.7, "1 hop PE LS joint": 76.9, "2 hops PE LS joint": 31.6,
        "3 hops PE LS joint": 33.1},
}
# Pairs whose order the paper shows: (our row, paper column) vs (our row, paper column).
ORDERINGS = [
    (("bow", "BoW"), ("pe", "PE")),
    (("pe", "PE"), ("pe_ls", "PE LS")),
    (("pe_ls_1hop", "1 hop PE LS joint"), ("pe_ls_2hop", "2 hops PE LS joint")),
    (("pe_ls_2hop", "2 hops PE LS joint"), ("pe_ls", "3 hops PE LS joint")),
    (("pe_ls_1hop", "1 hop PE LS joint"), ("pe_ls", "3 hops PE LS joint")),
    (("pe_ls", "PE LS"), ("pe_ls_rn", "PE LS RN")),
    (("pe_ls", "3 hops PE LS joint"), ("pe_ls_lw", "PE LS LW joint")),
]
TEST_QUESTIONS = 1000


def run(cmd, log):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.time()
    with open(log, "w") as f:
        proc = subprocess.run(["nice", "-n", "10", *cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        f.write(proc.stdout)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}")
    return proc.stdout, time.time() - start


def last_eval(run_dir):
    evals = [json.loads(line) for line in open(run_dir / "metrics.jsonl") if "eval_accuracy" in line]
    return evals[-1]


def fmt_err(x):
    return "—" if x is None else f"{x:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="1,2,3")
    ap.add_argument("--rows", default=",".join(r[0] for r in ROWS))
    ap.add_argument("--seeds", type=int, default=3, help="training runs per cell; the best on validation is tested")
    ap.add_argument("--data-seed", type=int, default=1, help="--seed of attnscale prepare babi")
    ap.add_argument("--binary", default="build/bin/attnscale")
    ap.add_argument("--out", default="experiments/memn2n_babi/results")
    ap.add_argument("--runs", default="runs/memn2n_babi")
    ap.add_argument("--extra", nargs="*", default=[], help="overrides for every run (a stated reduction)")
    args = ap.parse_args()
    tasks = [int(t) for t in args.tasks.split(",")]
    rows = [r for r in ROWS if r[0] in args.rows.split(",")]
    out, runs = ROOT / args.out, ROOT / args.runs
    out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    results = {"commit": commit + ("+dirty" if dirty else ""), "seeds": args.seeds, "data_seed": args.data_seed,
               "extra": args.extra, "runs": [], "tested": {}, "prepare": {}}
    grid_start = time.time()

    for task in tasks:
        data = ROOT / "data" / "babi" / f"task{task}.h5"
        data.parent.mkdir(parents=True, exist_ok=True)
        text, _ = run([args.binary, "prepare", "babi", "--task", str(task), "--output", str(data),
                       "--seed", str(args.data_seed)], out / f"prepare_task{task}.log")
        results["prepare"][task] = text.strip()
        config = f"configs/papers/memn2n_babi_task{task}.yaml"
        for name, label, overrides, _ in rows:
            best = None
            for seed in range(1, args.seeds + 1):
                run_dir = runs / f"task{task}_{name}_s{seed}"
                shutil.rmtree(run_dir, ignore_errors=True)  # this script's own run from before
                cmd = [args.binary, "train", config, f"run.seed={seed}", f"run.dir={run_dir}", "train.threads=1",
                       "logging.progress=off", "checkpoint.every=1000000", *overrides, *args.extra]
                # checkpoint.every beyond train.steps: the trainer still saves the final step.
                _, wall = run(cmd, out / f"train_task{task}_{name}_s{seed}.log")
                ev = last_eval(run_dir)
                record = {"task": task, "row": name, "seed": seed, "wall_s": round(wall, 1),
                          "validation_error": round(100 * (1 - ev["eval_accuracy"]), 2),
                          "validation_loss": ev["eval_loss"], "train_loss": ev["loss"], "run_dir": str(run_dir)}
                results["runs"].append(record)
                print(json.dumps(record), flush=True)
                if best is None or record["validation_error"] < best["validation_error"]:
                    best = record
            # The test set, once, for the selected run.
            test_cmd = [args.binary, "eval", config, f"run.dir={best['run_dir']}", f"run.seed={best['seed']}",
                        "train.resume=auto",
                        "train.threads=1", "logging.progress=off", "memn2n.eval_split=test",
                        f"train.eval_batches={-(-TEST_QUESTIONS // 32)}", *overrides, *args.extra]
            text, wall = run(test_cmd, out / f"test_task{task}_{name}.log")
            line = [l for l in text.splitlines() if l.startswith("{\"step\"")][-1]
            test = json.loads(line)
            results["tested"][f"{task}/{name}"] = {
                "seed": best["seed"], "validation_error": best["validation_error"],
                "test_error": round(100 * (1 - test["eval_accuracy"]), 2), "train_wall_s": best["wall_s"]}
            print(json.dumps({"task": task, "row": name, **results["tested"][f"{task}/{name}"]}), flush=True)
            if name == "pe_ls":
                text, _ = run([*test_cmd, "memn2n.show_attention=3", "train.eval_batches=1"],
                              out / f"attention_task{task}.log")
                results.setdefault("attention", {})[task] = "\n".join(
                    l for l in text.splitlines() if l.startswith("[memn2n]") or l.startswith("  "))
            # Written after every cell, so a stopped grid leaves what it finished.
            results["grid_wall_s"] = round(time.time() - grid_start, 1)
            (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
            write_markdown(results, tasks, rows, out)


def write_markdown(results, tasks, rows, out):
    tested = results["tested"]
    lines = [f"Commit {results['commit']}, {results['seeds']} seed(s) per cell, best on validation tested once; "
             f"grid wall time {results['grid_wall_s'] / 60:.1f} min.", "",
             "| task | " + " | ".join(label for _, label, _, _ in rows) + " |",
             "|---|" + "---|" * len(rows)]
    for task in tasks:
        cells = []
        for name, _, _, column in rows:
            t = tested.get(f"{task}/{name}")
            cells.append(f"**{fmt_err(t and t['test_error'])}** ({fmt_err(PAPER[task][column])})")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", "Test error % (bold: ours; in brackets: the paper's Table 1 column "
              + ", ".join(f"{label} = {column}" for _, label, _, column in rows) + ").", "",
              "| task | row | seed | validation error % | test error % | training wall time (s) |",
              "|---|---|---|---|---|---|"]
    for task in tasks:
        for name, label, _, _ in rows:
            t = tested.get(f"{task}/{name}")
            if t:
                lines.append(f"| {task} | {label} | {t['seed']} | {t['validation_error']:.1f} | {t['test_error']:.1f} "
                             f"| {t['train_wall_s']:.0f} |")
    lines += ["", "Orderings (lower error first):", ""]
    names = {r[0] for r in rows}
    for task in tasks:
        for (a, pa), (b, pb) in ORDERINGS:
            if a not in names or b not in names:
                continue
            if f"{task}/{a}" not in tested or f"{task}/{b}" not in tested:
                continue
            ours = tested[f"{task}/{a}"]["test_error"], tested[f"{task}/{b}"]["test_error"]
            paper = PAPER[task][pa], PAPER[task][pb]
            sign = lambda x, y: "<" if x < y else ">" if x > y else "="
            match = "matches" if sign(*ours) == sign(*paper) else "**does not match**"
            lines.append(f"- task {task}: {a} {sign(*ours)} {b} ({ours[0]:.1f} vs {ours[1]:.1f}); paper {pa} "
                         f"{sign(*paper)} {pb} ({paper[0]} vs {paper[1]}): {match}")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    if "attention" in results:
        (out / "attention.txt").write_text(
            "\n\n".join(f"task {t}:\n{text}" for t, text in results["attention"].items()) + "\n")


if __name__ == "__main__":
    main()
