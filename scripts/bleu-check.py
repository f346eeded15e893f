#!/usr/bin/env python3
"""Scores the files `attnscale eval` writes (eval.hypotheses: FILE, FILE.ref, FILE.src) with sacreBLEU
itself: corpus BLEU over all sentences, and with --buckets, corpus BLEU of the sentences in each
source-length bucket (source words, whitespace-separated), as Bahdanau et al.'s Figure 2 plots it.
attnscale computes the same corpus BLEU in C++ (framework/eval/bleu.h); this is the independent
cross-check, and the per-length table the C++ side does not print. Run it with the pinned sacreBLEU:

    "$(scripts/sacrebleu-venv.sh)" scripts/bleu-check.py runs/x/hyp.txt --buckets 10,20,30,40,50

Prints one JSON object: {"bleu": ..., "summary": ..., "sentences": N, "buckets": [{"source_words":
"1-10", "sentences": n, "bleu": ...}, ...]}. With --expect B it exits 1 unless sacreBLEU's score is B
to 1e-6 (the BLEU `attnscale eval` printed).
"""
import argparse
import json
import sys

import sacrebleu


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hypotheses", help="the eval.hypotheses file (FILE.ref and, with --buckets, FILE.src beside it)")
    parser.add_argument("--buckets", default="", help="upper bounds of the source-length buckets, e.g. 10,20,30")
    parser.add_argument("--expect", type=float, help="the BLEU attnscale printed: exit 1 unless sacreBLEU agrees")
    args = parser.parse_args()
    hyps = read_lines(args.hypotheses)
    refs = read_lines(args.hypotheses + ".ref")
    if len(hyps) != len(refs):
        sys.exit(f"[bleu-check] {len(hyps)} hypotheses but {len(refs)} references")
    score = sacrebleu.corpus_bleu(hyps, [refs])
    out = {"bleu": score.score, "summary": str(score), "sentences": len(hyps),
           "sacrebleu_version": sacrebleu.__version__}
    if args.buckets:
        srcs = read_lines(args.hypotheses + ".src")
        if len(srcs) != len(hyps):
            sys.exit(f"[bleu-check] {len(hyps)} hypotheses but {len(srcs)} sources")
        bounds = [int(b) for b in args.buckets.split(",")]
        edges = list(zip([0] + bounds, bounds + [None]))
        out["buckets"] = []
        for low, high in edges:
            picked = [i for i, s in enumerate(srcs) if low < len(s.split()) and (high is None or len(s.split()) <= high)]
            label = f"{low + 1}-{high}" if high is not None else f">{low}"
            bucket = {"source_words": label, "sentences": len(picked)}
            if picked:
                bucket["bleu"] = sacrebleu.corpus_bleu([hyps[i] for i in picked], [[refs[i] for i in picked]]).score
            out["buckets"].append(bucket)
    print(json.dumps(out))
    if args.expect is not None and abs(score.score - args.expect) > 1e-6:
        sys.exit(f"[bleu-check] sacreBLEU says {score.score}, expected {args.expect}")


if __name__ == "__main__":
    main()
