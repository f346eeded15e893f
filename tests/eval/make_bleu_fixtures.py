#!/usr/bin/env python3
"""Writes bleu_fixtures.json: sacreBLEU's own results (tokens, sentence BLEU, corpus BLEU with every
statistic) for the cases below, which tests/eval/test_bleu.cpp compares framework/eval/bleu.cpp with.
CI reads the committed JSON and needs no pip; regenerate it with the pinned sacreBLEU:

    "$(scripts/sacrebleu-venv.sh)" tests/eval/make_bleu_fixtures.py

Defaults throughout, as `sacrebleu REF -i HYP` uses them: tokenizer 13a, case kept, smoothing 'exp';
sentence_bleu with effective order (its default), corpus_bleu without.
"""
import json
import os
import random

import sacrebleu
from sacrebleu.metrics import BLEU

SENTENCES = [  # (hypothesis, [references]) for sentence BLEU; every line also tests the tokenizer
    ("The cat sat on the mat.", ["The cat sat on the mat."]),
    ("The cat is on the mat.", ["The cat sat on the mat."]),
    ("", ["The cat sat on the mat."]),  # empty hypothesis
    ("The cat sat on the mat.", [""]),  # empty reference
    ("mat the on sat cat", ["the cat sat on the mat"]),  # unigrams only: no 2-, 3- or 4-gram match
    ("the cat sat on a mat", ["the cat sat on the mat"]),  # no 4-gram match
    ("cat", ["the cat sat on the mat"]),  # one word: effective order 1, brevity penalty
    ("the the the the the the the", ["the cat sat on the mat"]),  # clipping
    ("the cat sat on the mat and then the dog came in", ["the cat sat on the mat"]),  # longer than the reference
    ('He said: "Hello, world!" (3.5 km, 1,000 people; 2-3 days) -- ok?', ['He said: "Hello world" (3.5 km, 1,000 people, 2-3 days)']),
    ("Mr. Smith... went to Washington, D.C., at 5 p.m.", ["Mr. Smith went to Washington, D.C. at 5 p.m."]),
    ("a..b,,c .5 ,7 9. 9, x.y 1.2.3 4-5-6 -7 a-b", ["a..b,,c .5 ,7 9. 9, x.y 1.2.3 4-5-6 -7 a-b"]),
    ("¿Dónde está el niño? ¡Allí, señor!", ["¿Dónde está la niña? ¡Allí, señora!"]),
    ("Y dijo Dios: Sea la luz; y fué la luz.", ["Y dijo Dios: Sea la luz: y fué la luz."]),
    ("En el principio creó Dios los cielos y la tierra.", ["En el principio crió Dios los cielos y la tierra."]),
    ("Tom &amp; Jerry &quot;quoted&quot; &lt;b&gt; &amp;amp;", ['Tom & Jerry "quoted" <b> &amp;']),
    ("a\u00a0b\u3000c\u2009d\te\u202ff\x1cg", ["a b c d e f g"]),  # Unicode whitespace
    ("foo-\nbar <skipped> baz\nqux", ["foobar baz qux"]),  # mteval markers
    ("trailing dash-\u00a0\n", ["trailing dash-"]),  # right-stripped before the markers
    ("漢字のテスト。😀 emoji, café’s «quotes» — dash", ["漢字のテスト。😀 emoji, cafe's «quotes» - dash"]),
    ("In the beginning God created the heaven and the earth.",
     ["In the beginning God created the heaven and the earth.", "In the beginning God created the heavens and the earth."]),
    ("God said let there be light", ["And God said, Let there be light: and there was light.",
                                      "Then God said, Let there be light; and there was light."]),
    ("x", ["a b", "c d e", "f"]),  # closest reference length, ties to the shorter
    ("a b c d", ["a b c", "a b c d e"]),  # equal distance: the shorter reference
    ("It's a dog's life {brace} [bracket] `tick` ~tilde| ^caret_ \\back/slash @ # $ % * + = < >",
     ["It's a dog's life {brace} [bracket] `tick` ~tilde| ^caret_ \\back/slash @ # $ % * + = < >"]),
]

WORDS_EN = ("and the of he that to in unto lord shall his they is him them not was for all thou with "
            "god said came land people son king house day children israel hand").split()
WORDS_ES = ("y de la el que en los á se no su las por con lo les jehová él dios dijo tierra "
            "hijos casa rey pueblo mano día señor vosotros así está niño año").split()


def noisy_corpus(words, sentences, seed):
    """References of 3-25 words with punctuation, and hypotheses that drop, swap and replace words."""
    rng = random.Random(seed)
    hyps, refs = [], []
    for _ in range(sentences):
        ref = [rng.choice(words) for _ in range(rng.randint(3, 25))]
        if rng.random() < 0.5:
            ref[rng.randrange(len(ref))] += rng.choice([",", ";", ":"])
        ref[-1] += rng.choice([".", ".", "?", "!"])
        hyp = list(ref)
        for _ in range(rng.randint(0, 6)):
            op = rng.random()
            if op < 0.3 and len(hyp) > 1:
                del hyp[rng.randrange(len(hyp))]
            elif op < 0.6:
                i = rng.randrange(len(hyp))
                j = rng.randrange(len(hyp))
                hyp[i], hyp[j] = hyp[j], hyp[i]
            else:
                hyp[rng.randrange(len(hyp))] = rng.choice(words)
        if rng.random() < 0.05:
            hyp = []
        hyps.append(" ".join(hyp))
        refs.append(" ".join(ref))
    return hyps, refs


def score_record(score):
    return {"score": score.score, "counts": list(score.counts), "totals": list(score.totals),
            "precisions": list(score.precisions), "bp": score.bp, "sys_len": score.sys_len,
            "ref_len": score.ref_len, "summary": str(score).split(" = ", 1)[1]}


def main():
    bleu = BLEU()
    lines = sorted({line for hyp, refs in SENTENCES for line in [hyp, *refs]})
    tokenize = [{"line": line, "tokens": bleu._preprocess_segment(line)} for line in lines]
    sentence = [dict(hypothesis=hyp, references=refs, **score_record(sacrebleu.sentence_bleu(hyp, refs)))
                for hyp, refs in SENTENCES]

    corpora = []
    hyps = [hyp for hyp, _ in SENTENCES]
    first_refs = [refs[0] for _, refs in SENTENCES]
    corpora.append(("every sentence case, first references", hyps, [first_refs]))
    second = [refs[1] if len(refs) > 1 else refs[0] for _, refs in SENTENCES]
    corpora.append(("every sentence case, two reference streams", hyps, [first_refs, second]))
    corpora.append(("empty hypotheses", ["", ""], [["a b c", "d e"]]))
    corpora.append(("no 4-gram match anywhere", ["a b c x", "d e f"], [["a b c d", "d e f g"]]))
    corpora.append(("no 3- or 4-gram match: exp smoothing", ["a b x c d", "e f"], [["a b c d", "e f g"]]))
    for name, words, seed in (("English", WORDS_EN, 1), ("Spanish", WORDS_ES, 2)):
        h, r = noisy_corpus(words, 300, seed)
        corpora.append((f"{name} noisy corpus, 300 sentences", h, [r]))
    corpus = [dict(name=name, hypotheses=h, references=r, **score_record(sacrebleu.corpus_bleu(h, r)))
              for name, h, r in corpora]

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bleu_fixtures.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generator": "tests/eval/make_bleu_fixtures.py", "sacrebleu_version": sacrebleu.__version__,
                   "tokenize": tokenize, "sentence": sentence, "corpus": corpus}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(tokenize)} tokenizer lines, {len(sentence)} sentences, {len(corpus)} corpora")


if __name__ == "__main__":
    main()
