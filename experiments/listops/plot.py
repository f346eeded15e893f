#!/usr/bin/python3
"""Plots the ListOps runs of experiments/listops/README.md from their metrics.jsonl files.

  experiments/listops/plot.py RUNS_DIR OUT_DIR
RUNS_DIR holds one run directory per mechanism (transformer, local, sparse, sparsemax, adaptive_span,
transformer_cp2: the run.dir of each `attnscale train`). Writes OUT_DIR/loss.png (training loss of
every mechanism against the step) and OUT_DIR/cp2.png (the full-attention run on 1 rank and with
parallel.cp = 2, and their relative difference). Missing runs are left out. Exit 2 without matplotlib
or without any run.
"""
import json
import pathlib
import sys

RUNS = [("transformer", "full attention"), ("local", "sliding window 64"), ("sparse", "strided block-sparse"),
        ("sparsemax", "sparsemax"), ("adaptive_span", "adaptive span")]


def curve(runs, name):
    path = runs / name / "metrics.jsonl"
    if not path.is_file():
        return None
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    runs, out = pathlib.Path(argv[0]), pathlib.Path(argv[1])
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[listops plot] error: no matplotlib (python3-matplotlib)", file=sys.stderr)
        return 2
    curves = {name: curve(runs, name) for name, _ in RUNS + [("transformer_cp2", "")]}
    if not any(curves.values()):
        print(f"[listops plot] error: no metrics.jsonl under {runs}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    for name, label in RUNS:
        if curves[name]:
            steps = sorted(curves[name])
            ax.plot(steps, [curves[name][s] for s in steps], marker=".", label=label)
    ax.set_xlabel("step (16 expressions each)")
    ax.set_ylabel("training loss at the answer token")
    ax.set_title("ListOps, 64-256 tokens, d_model 64, 2 layers", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "loss.png")
    plt.close(fig)

    one, two = curves["transformer"], curves["transformer_cp2"]
    if one and two:
        steps = sorted(set(one) & set(two))
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.2), dpi=100, sharex=True,
                                          gridspec_kw={"height_ratios": [3, 1]})
        top.plot(steps, [one[s] for s in steps], marker="o", label="1 rank")
        top.plot(steps, [two[s] for s in steps], marker="x", linestyle="--", label="parallel.cp = 2 (ring, 2 ranks)")
        top.set_ylabel("training loss")
        top.set_title("ListOps, full attention: one rank against the sequence over 2 ranks", fontsize=9)
        top.grid(True, alpha=0.3)
        top.legend(fontsize=8)
        bottom.plot(steps, [abs(two[s] - one[s]) / abs(one[s]) for s in steps], marker=".")
        bottom.set_yscale("log")
        bottom.set_ylabel("relative diff.")
        bottom.set_xlabel("step")
        bottom.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "cp2.png")
        plt.close(fig)
    print(f"[listops plot] wrote {out / 'loss.png'}" + (f", {out / 'cp2.png'}" if one and two else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
