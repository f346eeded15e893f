#!/usr/bin/env bash
# Makes (once) a Python virtual environment with sacreBLEU from PyPI, pinned below, in
# .deps/sacrebleu/ (ignored by git), and prints its python. attnscale computes BLEU itself
# (framework/eval/bleu.h, sacreBLEU's exact algorithm); this venv is for the scripts that check it
# against sacreBLEU: tests/eval/make_bleu_fixtures.py (the committed test values) and
# scripts/bleu-check.py (an experiment's hypotheses file scored by sacreBLEU).
#   "$(scripts/sacrebleu-venv.sh)" tests/eval/make_bleu_fixtures.py
# A second run returns at once. Needs python3-venv (Debian) and PyPI.
set -euo pipefail
sacrebleu_version=2.6.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.deps/sacrebleu"
if ! "$venv/bin/python" -c "import sacrebleu, sys; sys.exit(sacrebleu.__version__ != '$sacrebleu_version')" 2>/dev/null; then
  echo "[sacrebleu-venv] sacrebleu==$sacrebleu_version (PyPI) -> $venv" >&2
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "sacrebleu==$sacrebleu_version" >&2
fi
echo "$venv/bin/python"
