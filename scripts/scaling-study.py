#!/usr/bin/python3
"""scaling-study: sweep sequence length x rank count x attention algorithm with bench_long_step.

Each point is one run of build/bin/bench_long_step (one full training step of a TransformerLM on one
sequence sharded over the ranks, causal sliding window) with --json. Everything lands in one
directory: points/*.json and *.log per point, results.csv / results.json, config.json, and PNG plots
(step time, tokens/s, cost per token with its fitted power law, peak memory per rank, attention bytes
sent, each against sequence length, one line per (algo, ranks)).

  scripts/build.sh                                   # builds build/bin/bench_long_step
  scripts/scaling-study.py --tokens 16384,32768,65536 --ranks 1,2 --algo ring,halo --window 4096
  scripts/scaling-study.py --tokens 4096,16384,65536 --algo ring,halo,all_gather --data listops.h5
                                                     # a real task: ListOps expressions packed into each sequence
  scripts/scaling-study.py --quick                   # a few seconds: a smoke test
  scripts/scaling-study.py --replot DIR              # redraw the plots of a finished sweep

results.csv: the last step's time (first_step_s: the cold first one), tokens/s over the whole step,
peak resident memory (the largest rank's, and every rank's separated by ';'), the bytes rank 0 sent
in attention transfers and sat blocked in them, rank 0's gradient all-reduce bytes (it includes the
8-byte all-reduce of the scored-token count), the benchmark's reference with --reference.
With 1 rank the benchmark runs without mpirun (parallel.cp = 1): nothing is communicated, so the
algorithm does not apply and the point is recorded once, as algo "none".
Exit codes: 0 every point ran, 1 some point failed or timed out (recorded with its reason),
2 bad arguments or a missing benchmark / mpirun (nothing was run).
Runs with Debian's /usr/bin/python3 (python3-numpy, python3-matplotlib: scripts/install-deps.sh).
"""

import argparse
import csv
import datetime
import importlib.util
import json
import os
import pathlib
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
TAG = "[scaling-study]"
ALGOS = ("ring", "halo", "all_gather", "auto")
NO_ALGO = "none"  # the algo of a 1-rank point: no communication

# --quick fills in whatever the command line leaves unset.
QUICK = {"tokens": "256,1024,4096", "ranks": "1,2", "algo": "ring,halo", "window": 256, "layers": 1, "steps": 1,
         "timeout": 60.0}
DEFAULTS = {"tokens": "16384,32768,65536,131072", "ranks": "1,2", "algo": "ring,halo", "window": 4096,
            "d_model": 64, "layers": 2, "heads": 2, "steps": 2, "threads": 1, "timeout": 900.0}

CSV_FIELDS = ["tokens", "ranks", "algo", "status", "reason", "step_time_s", "first_step_s", "tokens_per_s",
              "forward_s", "backward_s", "grad_allreduce_s", "peak_rss_gib_max", "peak_rss_gib_per_rank",
              "attention_bytes_sent", "attention_wait_s", "gradient_allreduce_bytes", "reference_step_s",
              "ratio_step_over_reference", "loss", "wall_s", "json"]


class UsageError(Exception):
    """A bad argument or a missing program: nothing was run (exit 2)."""


def log(message):
    print(f"{TAG} {message}", flush=True)


def positive_int_list(text, name):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--{name} {text!r}: expected comma-separated positive integers") from None
    if not values or any(v <= 0 for v in values):
        raise UsageError(f"--{name} {text!r}: expected comma-separated positive integers")
    return sorted(set(values))


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scaling-study.py",
        description="Sweep sequence length x ranks x attention algorithm with build/bin/bench_long_step; "
                    "writes per-point JSON, results.csv/json, config.json and PNG plots.",
        epilog="Exit codes: 0 all points ran, 1 some point failed, 2 bad arguments or missing build.")
    p.add_argument("--tokens", metavar="N,N,...", help=f"sequence lengths (default {DEFAULTS['tokens']})")
    p.add_argument("--ranks", metavar="P,P,...",
                   help=f"rank counts; >1 runs under mpirun (default {DEFAULTS['ranks']})")
    p.add_argument("--algo", metavar="A,A,...",
                   help=f"parallel.algo values from {','.join(ALGOS)} (default {DEFAULTS['algo']})")
    p.add_argument("--window", metavar="KEYS", type=int,
                   help=f"causal window in keys (default {DEFAULTS['window']})")
    p.add_argument("--d-model", metavar="N", type=int, help=f"model width (default {DEFAULTS['d_model']})")
    p.add_argument("--layers", metavar="N", type=int, help=f"transformer blocks (default {DEFAULTS['layers']})")
    p.add_argument("--heads", metavar="N", type=int, help=f"attention heads (default {DEFAULTS['heads']})")
    p.add_argument("--steps", metavar="N", type=int,
                   help=f"training steps per point; the last is reported (default {DEFAULTS['steps']})")
    p.add_argument("--store-activations", action="store_true", help="keep activations instead of recomputing them")
    p.add_argument("--reference", action="store_true",
                   help="also run the benchmark's shard-alone reference (doubles the time; adds step/reference)")
    p.add_argument("--threads", metavar="N", type=int,
                   help=f"OMP_NUM_THREADS per rank (default {DEFAULTS['threads']})")
    p.add_argument("--timeout", metavar="SECONDS", type=float,
                   help=f"seconds per point before it is killed (default {DEFAULTS['timeout']:.0f})")
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/scaling-<timestamp>)")
    p.add_argument("--data", metavar="FILE",
                   help="train on this ListOps file (attnscale prepare listops), expressions packed into each "
                        "sequence, instead of the benchmark's copy task")
    p.add_argument("--bench", metavar="PATH", help="the benchmark program (default build/bin/bench_long_step)")
    p.add_argument("--mpirun", metavar="PATH", help="mpirun program for ranks > 1 (default: mpirun on PATH)")
    p.add_argument("--replot", metavar="DIR",
                   help="only redraw the plots of a finished sweep from DIR/results.json")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: tokens 256,1024,4096 (shards below and above the window), window 256, "
                        "1 layer, 1 step (explicit options still win)")
    args = p.parse_args(argv)
    for key, value in {**DEFAULTS, **(QUICK if args.quick else {})}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.tokens = positive_int_list(args.tokens, "tokens")
    args.ranks = positive_int_list(args.ranks, "ranks")
    args.algo = [a.strip() for a in args.algo.split(",") if a.strip()]
    unknown = [a for a in args.algo if a not in ALGOS]
    if not args.algo or unknown:
        raise UsageError(f"--algo {','.join(unknown) or repr('')}: not one of {','.join(ALGOS)}")
    for name in ("window", "d_model", "layers", "heads", "steps", "threads"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be positive")
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout}: must be positive")
    if args.d_model % args.heads:
        raise UsageError(f"--d-model {args.d_model} is not divisible by --heads {args.heads}")
    for ranks in args.ranks:
        for tokens in args.tokens:
            if tokens < ranks:
                raise UsageError(f"--tokens {tokens} is fewer than --ranks {ranks}: every rank needs a token")
    return args


def find_programs(args):
    bench = pathlib.Path(args.bench) if args.bench else REPO / "build" / "bin" / "bench_long_step"
    if not bench.is_file() or not os.access(bench, os.X_OK):
        raise UsageError(f"{bench}: benchmark not found. Build it first: scripts/build.sh (or "
                         f"cmake -S . -B build -G Ninja && ninja -C build bench_long_step), or pass --bench PATH")
    mpirun = None
    if any(r > 1 for r in args.ranks):
        mpirun = args.mpirun or shutil.which("mpirun") or shutil.which("mpiexec")
        if not mpirun or not shutil.which(mpirun):
            raise UsageError(f"mpirun not found ({args.mpirun or 'PATH'}), needed for --ranks above 1: "
                             f"run scripts/install-deps.sh (openmpi-bin) or pass --mpirun PATH")
    if args.data and not pathlib.Path(args.data).is_file():
        raise UsageError(f"--data {args.data}: no such file (make it with: attnscale prepare listops --output FILE)")
    return bench.resolve(), mpirun


def sweep_points(args):
    """(tokens, ranks, algo) in run order: series by series, short sequences first."""
    points = []
    for ranks in args.ranks:
        for algo in ([NO_ALGO] if ranks == 1 else args.algo):
            points.extend((tokens, ranks, algo) for tokens in args.tokens)
    return points


def point_name(tokens, ranks, algo):
    return f"t{tokens}_p{ranks}_{algo}"


def point_command(args, bench, mpirun, tokens, ranks, algo, json_path):
    cmd = [str(bench), "--tokens", str(tokens), "--window", str(args.window), "--d-model", str(args.d_model),
           "--layers", str(args.layers), "--heads", str(args.heads), "--steps", str(args.steps),
           "--json", str(json_path)]
    if algo != NO_ALGO:
        cmd += ["--algo", algo]
    if not args.reference:
        cmd.append("--no-reference")
    if args.store_activations:
        cmd.append("--store-activations")
    if args.data:
        cmd += ["--data", str(pathlib.Path(args.data).resolve())]
    if ranks == 1:
        return cmd  # one rank needs no mpirun
    launcher = [mpirun, "-np", str(ranks), "--oversubscribe"]
    if os.geteuid() == 0:
        launcher.append("--allow-run-as-root")
    return launcher + cmd


def end_process_group(proc):
    """SIGTERM to the point's process group (mpirun and its ranks), SIGKILL after 5 s."""
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def run_with_timeout(cmd, env, log_path, timeout):
    """Runs cmd in its own process group, so that a timeout or Ctrl-C ends mpirun and its ranks too.
    Returns (exit code or None on timeout, wall seconds)."""
    start = time.monotonic()
    with open(log_path, "w") as log_file:
        log_file.write(f"$ OMP_NUM_THREADS={env['OMP_NUM_THREADS']} {shlex.join(cmd)}\n")
        log_file.flush()
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            end_process_group(proc)
            rc = None
        except BaseException:  # Ctrl-C reached only this process: its own session kept the ranks out of it
            end_process_group(proc)
            raise
    return rc, time.monotonic() - start


def tail(path, lines=3):
    try:
        text = pathlib.Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def failure_reason(rc, timeout, log_path):
    if rc is None:
        return f"exceeded --timeout {timeout:g} s"
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        hint = " (out of memory?)" if -rc == signal.SIGKILL else ""
        return f"killed by {name}{hint}: {tail(log_path)}"
    return f"exit {rc}: {tail(log_path)}"


def summarise(report, wall_s, json_path):
    """One results row from the benchmark's JSON report (the last step is the warm one)."""
    steps = report["sharded_steps"]
    last = steps[-1]
    peaks = report["peak_rss_gib_per_rank"]
    row = {
        "status": "ok", "reason": "",
        "step_time_s": last["total_s"], "first_step_s": steps[0]["total_s"],
        "tokens_per_s": report["tokens"] / last["total_s"] if last["total_s"] > 0 else float("nan"),
        "forward_s": last["forward_s"], "backward_s": last["backward_s"],
        "grad_allreduce_s": last["grad_allreduce_s"],
        "peak_rss_gib_max": max(peaks), "peak_rss_gib_per_rank": peaks,
        "attention_bytes_sent": last["attention_bytes_sent"], "attention_wait_s": last["attention_wait_s"],
        "gradient_allreduce_bytes": last["gradient_allreduce_bytes"],
        "reference_step_s": report.get("reference_step_s", ""),
        "ratio_step_over_reference": report.get("ratio_step_over_reference", ""),
        "loss": last["loss"], "wall_s": wall_s, "json": str(json_path),
    }
    return row


def run_point(args, bench, mpirun, env, out, tokens, ranks, algo):
    name = point_name(tokens, ranks, algo)
    json_path = out / "points" / f"{name}.json"
    log_path = out / "points" / f"{name}.log"
    cmd = point_command(args, bench, mpirun, tokens, ranks, algo, json_path)
    json_path.unlink(missing_ok=True)  # a report left by an earlier sweep into the same --out is not this run's
    rc, wall_s = run_with_timeout(cmd, env, log_path, args.timeout)
    row = {field: "" for field in CSV_FIELDS}
    row.update(tokens=tokens, ranks=ranks, algo=algo, wall_s=wall_s, json=str(json_path))
    if rc != 0:
        row.update(status="failed", reason=failure_reason(rc, args.timeout, log_path))
        return row
    try:
        row.update(summarise(json.loads(json_path.read_text()), wall_s, json_path))
    except (OSError, ValueError, KeyError, IndexError) as e:
        row.update(status="failed", reason=f"exit 0 but no usable report {json_path.name}: {e!r}")
    return row


def format_seconds(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def machine_load():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def git_commit():
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def write_results(out, rows):
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (";".join(f"{v:.4f}" for v in row[k]) if isinstance(row[k], list) else row[k])
                             for k in CSV_FIELDS})


def series(rows):
    """{(algo, ranks): [rows of the points that ran, by tokens]}"""
    out = {}
    for row in rows:
        if row["status"] == "ok":
            out.setdefault((row["algo"], row["ranks"]), []).append(row)
    for points in out.values():
        points.sort(key=lambda r: r["tokens"])
    return dict(sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0])))


def power_law(points, metric):
    """(exponent b, coefficient a) of metric = a * tokens^b fitted on log-log axes, or None."""
    import numpy as np
    y = np.array([p[metric] for p in points], dtype=float)
    if len(points) < 2 or not np.all(y > 0):
        return None
    slope, intercept = np.polyfit(np.log([p["tokens"] for p in points]), np.log(y), 1)
    return float(slope), float(np.exp(intercept))


def cost_per_token_us(row):
    return 1e6 * row["step_time_s"] / row["tokens"]


def scaling_exponents(rows):
    """Slope of log(metric) against log(tokens) per series: 1 = linear in sequence length, 0 = flat.
    cost_per_token_us: the step's microseconds per token fitted as a * tokens^b (b = step exponent - 1)."""
    fits = {}
    for (algo, ranks), points in series(rows).items():
        if len(points) < 2:
            continue
        fit = {}
        for metric in ("step_time_s", "peak_rss_gib_max", "attention_bytes_sent"):
            law = power_law(points, metric)
            if law:
                fit[metric] = law[0]
        law = power_law([dict(p, cost=cost_per_token_us(p)) for p in points], "cost")
        if law:
            fit["cost_per_token_us"] = {"exponent": law[0], "coefficient": law[1]}
        fits[f"{algo}/{ranks}"] = fit
    return fits


def series_label(algo, ranks):
    return "1 rank" if algo == NO_ALGO else f"{algo}, {ranks} ranks"


def plot_title(config):
    data = "ListOps packed" if config.get("data", "copy task") != "copy task" else "copy task"
    return (f"bench_long_step ({data}): window {config['window']}, d_model {config['d_model']}, {config['layers']} layers,\n"
            f"{config['heads']} heads, OMP_NUM_THREADS={config['omp_num_threads']}")


def plot(out, rows, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figures = [  # file, metric, y label, log y (which drops zeros: 1 rank sends nothing)
        ("step_time.png", "step_time_s", "training step time (s)", True),
        ("tokens_per_s.png", "tokens_per_s", "tokens / s (whole step)", False),
        ("cost_per_token.png", "cost_per_token_us", "step time per token (us); dashed: fit a * tokens^b", True),
        ("peak_memory.png", "peak_rss_gib_max", "peak resident memory per rank (GiB)", True),
        ("attention_bytes.png", "attention_bytes_sent", "attention bytes sent by rank 0 per step (MiB)", True),
    ]
    written = []
    by_series = {key: [dict(p, cost_per_token_us=cost_per_token_us(p)) for p in points]
                 for key, points in series(rows).items()}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color_of = {key: colors[i % len(colors)] for i, key in enumerate(by_series)}  # the same in every plot
    all_tokens = sorted({r["tokens"] for r in rows})
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    for file_name, metric, ylabel, log_y in figures:
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
        plotted = []
        for (algo, ranks), points in by_series.items():
            pts = [(p["tokens"], p[metric]) for p in points if not (log_y and p[metric] <= 0)]
            if metric == "attention_bytes_sent":
                pts = [(t, v / 2**20) for t, v in pts]
            plotted += [v for _, v in pts]
            if pts:
                label = series_label(algo, ranks)
                law = power_law(points, metric) if metric == "cost_per_token_us" else None
                if law:
                    label += f" (b = {law[0]:.2f})"
                    ax.plot([t for t, _ in pts], [law[1] * t ** law[0] for t, _ in pts], linestyle="--",
                            color=color_of[(algo, ranks)])
                ax.plot([t for t, _ in pts], [v for _, v in pts], marker="o", color=color_of[(algo, ranks)],
                        label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_tokens, [f"{t // 1024}k" if t % 1024 == 0 else str(t) for t in all_tokens])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # only the swept lengths are labelled
        if log_y and plotted and max(plotted) >= 10 * min(plotted):  # within a decade a log axis shows nothing
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(plain)
        elif log_y:
            ax.set_ylim(bottom=0)
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / file_name)
        plt.close(fig)
        written.append(file_name)
    return written


def replot(out):
    try:
        summary = json.loads((out / "results.json").read_text())
        rows, config = summary["points"], summary["config"]
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"--replot {out}: no usable results.json ({e})") from None
    log(f"redrew {', '.join(plot(out, rows, plot_title(config)))} in {out}")
    return 0


def main(argv):
    try:
        args = parse_args(argv)
        if args.replot:
            return replot(pathlib.Path(args.replot))
        bench, mpirun = find_programs(args)
    except UsageError as e:
        print(f"{TAG} error: {e}", file=sys.stderr)
        return 2
    missing = [m for m in ("numpy", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:  # say so before the sweep, not after it
        print(f"{TAG} error: no {', '.join(missing)} for {sys.executable}: run scripts/install-deps.sh "
              f"(python3-numpy, python3-matplotlib) and run this script with /usr/bin/python3", file=sys.stderr)
        return 2

    started = datetime.datetime.now()
    out = pathlib.Path(args.out) if args.out else REPO / "runs" / f"scaling-{started:%Y%m%d-%H%M%S}"
    try:
        (out / "points").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"{TAG} error: --out {out}: {e}", file=sys.stderr)
        return 2
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    points = sweep_points(args)
    config = {
        "command": [sys.argv[0]] + list(argv), "started": started.isoformat(timespec="seconds"),
        "bench": str(bench), "mpirun": mpirun, "git_commit": git_commit(),
        "tokens": args.tokens, "ranks": args.ranks, "algo": args.algo, "window": args.window,
        "data": args.data or "copy task", "d_model": args.d_model, "layers": args.layers, "heads": args.heads, "steps": args.steps,
        "activation_checkpointing": not args.store_activations, "reference": args.reference,
        "omp_num_threads": args.threads, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset"),
        "timeout_s": args.timeout, "quick": args.quick,
        "host": {"name": platform.node(), "cpus": os.cpu_count(), "load_average_at_start": machine_load()},
        "points": [point_name(*p) for p in points],
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    log(f"{len(points)} point(s) -> {out}  (window {args.window}, d_model {args.d_model}, {args.layers} layers, "
        f"{args.heads} heads, {args.steps} steps, OMP_NUM_THREADS={args.threads}, load {machine_load()})")

    rows = []
    sweep_start = time.monotonic()
    # Attention dominates a small model's step: a point costs about tokens x min(tokens, window).
    cost = {t: float(t) * min(t, args.window) for t in args.tokens}
    total_cost = sum(cost[t] for t, _, _ in points)
    done_cost = 0.0
    for i, (tokens, ranks, algo) in enumerate(points, 1):
        row = run_point(args, bench, mpirun, env, out, tokens, ranks, algo)
        rows.append(row)
        done_cost += cost[tokens]
        elapsed = time.monotonic() - sweep_start
        eta = elapsed * (total_cost - done_cost) / done_cost
        if row["status"] == "ok":
            result = (f"ok: step {row['step_time_s']:.3f} s, {row['tokens_per_s']:.0f} tok/s, "
                      f"peak {row['peak_rss_gib_max']:.2f} GiB/rank, "
                      f"attention {row['attention_bytes_sent'] / 2**20:.2f} MiB")
        else:
            result = f"FAILED ({row['reason']})"
        log(f"point {i}/{len(points)}: tokens {tokens}, ranks {ranks}, algo {algo}: {result}  "
            f"[elapsed {format_seconds(elapsed)}, ETA {format_seconds(eta)}]")
        write_results(out, rows)  # a sweep cut short keeps what it has

    failed = [r for r in rows if r["status"] != "ok"]
    fits = scaling_exponents(rows)
    config["host"]["load_average_at_end"] = machine_load()
    config["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "results.json").write_text(json.dumps({"config": config, "points": rows,
                                                  "exponents_vs_tokens": fits}, indent=2) + "\n")
    plots = plot(out, rows, plot_title(config))
    for name, fit in fits.items():
        exponents = ", ".join(f"{metric} {round(value, 2) + 0.0:.2f}" for metric, value in fit.items()
                              if metric != "cost_per_token_us")
        log(f"exponent vs tokens, {name}: {exponents}")
        if "cost_per_token_us" in fit:
            law = fit["cost_per_token_us"]
            log(f"cost per token, {name}: {law['coefficient']:.4g} us * tokens^{law['exponent']:.3f}")
    log(f"wrote results.csv, results.json, config.json, {', '.join(plots)} in {out}")
    if failed:
        log(f"{len(failed)} of {len(rows)} points failed: " +
            "; ".join(f"{point_name(r['tokens'], r['ranks'], r['algo'])}: {r['reason']}" for r in failed))
        return 1
    log(f"all {len(rows)} points ran in {format_seconds(time.monotonic() - sweep_start)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print(f"{TAG} interrupted: results.csv holds the points that finished", file=sys.stderr)
        sys.exit(130)
