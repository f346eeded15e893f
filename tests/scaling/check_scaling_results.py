#!/usr/bin/python3
"""Checks the output directory of `scripts/scaling-study.py --quick` (tokens 256, 1024, 4096, window 256,
ranks 1 and 2, algos ring and halo): every file is there and the numbers are sane.

Bytes follow from the mask (DESIGN.md 5): rank 0 sends rank 1 the keys its window reaches, i.e. all
of its shard while the shard (128 tokens) is shorter than the window, then the window's rows, the
same for 512 and 2048 tokens per rank: flat in sequence length, for halo and for the mask-aware ring.
  check_scaling_results.py DIR
"""
import csv
import json
import math
import pathlib
import sys

TOKENS = [256, 1024, 4096]
SERIES = [(1, "none"), (2, "ring"), (2, "halo")]
PLOTS = ["step_time.png", "tokens_per_s.png", "cost_per_token.png", "peak_memory.png", "attention_bytes.png"]
failures = []


def expect(condition, message):
    if not condition:
        failures.append(message)
    return condition


def main(out):
    for name in ["results.csv", "results.json", "config.json"] + PLOTS:
        expect((out / name).is_file(), f"{name} missing")
    for name in PLOTS:
        path = out / name
        if path.is_file():
            head = path.read_bytes()[:8]
            expect(head == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000,
                   f"{name} is not a PNG with content")
    config = json.loads((out / "config.json").read_text())
    expect(config["window"] == 256 and config["tokens"] == TOKENS and config["quick"], f"config.json: {config}")
    expect(len(config["points"]) == len(TOKENS) * len(SERIES), f"config.json lists {len(config['points'])} points")

    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_key = {(int(r["ranks"]), r["algo"], int(r["tokens"])): r for r in rows}
    expect(len(rows) == len(by_key) == len(TOKENS) * len(SERIES), f"{len(rows)} rows: {sorted(by_key)}")
    summary = json.loads((out / "results.json").read_text())
    expect(len(summary["points"]) == len(rows), "results.json and results.csv disagree on the points")

    for ranks, algo in SERIES:
        sent = []
        for tokens in TOKENS:
            row = by_key.get((ranks, algo, tokens))
            where = f"tokens {tokens}, ranks {ranks}, algo {algo}"
            if not expect(row is not None and row["status"] == "ok", f"{where}: {row and row['reason']}"):
                continue
            step, rate = float(row["step_time_s"]), float(row["tokens_per_s"])
            expect(step > 0 and math.isclose(rate, tokens / step, rel_tol=1e-9),
                   f"{where}: step {step}, rate {rate}")
            peaks = [float(v) for v in row["peak_rss_gib_per_rank"].split(";")]
            expect(len(peaks) == ranks and all(0 < p < 8 for p in peaks), f"{where}: peak memory {peaks}")
            loss = float(row["loss"])
            expect(0 < loss < 10, f"{where}: loss {loss}")  # ~ln(32) for an untrained model on 32 symbols
            report = json.loads(pathlib.Path(row["json"]).read_text())
            expect(report["tokens"] == tokens and report["ranks"] == ranks and report["algo"] == algo,
                   f"{where}: the point's JSON says tokens {report['tokens']}, ranks {report['ranks']}, "
                   f"algo {report['algo']}")
            sent.append(int(row["attention_bytes_sent"]))
            if ranks > 1:
                expect(int(row["gradient_allreduce_bytes"]) > 0, f"{where}: no gradient all-reduce")
        if len(sent) != len(TOKENS):
            continue
        if ranks == 1:
            expect(sent == [0, 0, 0], f"1 rank sent attention bytes: {sent}")
        else:
            expect(0 < sent[0] < sent[1], f"{algo}: bytes should grow while the shard is below the window: {sent}")
            expect(sent[1] == sent[2], f"{algo}: bytes should stay flat once the shard exceeds the window: {sent}")
    for message in failures:
        print(f"[scaling-study check] FAILED: {message}")
    if not failures:
        print(f"[scaling-study check] {len(rows)} points, {len(PLOTS)} plots: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
