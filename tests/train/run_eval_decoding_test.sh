#!/usr/bin/env bash
# `attnscale eval` decoding a translation model (configs/mechanisms/cross.yaml, made small), on one
# rank and under `mpirun -np 2`: both write the same hypotheses, references and sources files
# (eval.hypotheses) and print the same BLEU, on the synthetic task and on a pair corpus; where scripts/sacrebleu-venv.sh has made .deps/sacrebleu,
# sacreBLEU itself (scripts/bleu-check.py) scores those files to the printed BLEU (CI has no such venv: tests/eval checks the
# scorer against committed sacreBLEU values instead); eval.* on a model that does not decode is a
# config error (exit 2).
#   run_eval_decoding_test.sh MPIEXEC ATTNSCALE SOURCE_DIR
set -uo pipefail
mpiexec=$1 program=$2 source_dir=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "[eval decoding test] FAILED: $*"; exit 1; }
config="$source_dir/configs/mechanisms/cross.yaml"
small=(model.d_model=32 model.n_layers=1 data.batch_size=12 train.steps=60 optim.lr=1e-2 optim.warmup_steps=5
       train.eval_batches=3 train.threads=1 logging.progress=off "run.dir=$dir/run")

output=$(timeout 120 "$program" train "$config" "${small[@]}" checkpoint.every=60 2>&1) || fail "train: $output"
for ranks in 1 2; do
  launcher=()
  [ "$ranks" -gt 1 ] && launcher=("$mpiexec" -n "$ranks" --oversubscribe)
  output=$(timeout 120 "${launcher[@]}" "$program" eval "$config" "${small[@]}" train.resume=auto eval.beam_size=3 \
           "eval.hypotheses=$dir/np$ranks/hyp.txt" 2>&1)
  rc=$?
  echo "$output" | tail -3
  [ "$rc" -eq 0 ] || fail "eval on $ranks rank(s): exit $rc"
  grep -o '"bleu":[^,]*' <<<"$output" > "$dir/bleu$ranks" || fail "no BLEU in the JSON on $ranks rank(s)"
  grep -q '"beam_size":3' <<<"$output" || fail "no beam_size in the JSON"
  for suffix in "" .ref .src; do
    [ "$(wc -l < "$dir/np$ranks/hyp.txt$suffix")" -eq 36 ] || fail "hyp.txt$suffix: not 36 lines (3 batches of 12)"
  done
done
for suffix in "" .ref .src; do
  cmp "$dir/np1/hyp.txt$suffix" "$dir/np2/hyp.txt$suffix" || fail "hyp.txt$suffix differs between 1 and 2 ranks"
done
cmp "$dir/bleu1" "$dir/bleu2" || fail "BLEU differs: $(cat "$dir/bleu1") vs $(cat "$dir/bleu2")"
venv_python="$source_dir/.deps/sacrebleu/bin/python"
if [ -x "$venv_python" ]; then
  "$venv_python" "$source_dir/scripts/bleu-check.py" "$dir/np1/hyp.txt" --buckets 4,8 --expect "$(cut -d: -f2 "$dir/bleu1")" ||
    fail "sacreBLEU (scripts/bleu-check.py) disagrees with the printed BLEU"
fi
grep -q "[0-9]" "$dir/np1/hyp.txt" || fail "every hypothesis is empty: the test would not see a wrong decoding"
cmp -s "$dir/np1/hyp.txt" "$dir/np1/hyp.txt.ref" && fail "the hypotheses are the references: the test would not see a wrong BLEU"

# A pair corpus (data.path, `attnscale prepare pairs` on the test fixtures, Ruth as the validation
# book): the decoding covers the whole validation split once, its references and sources are the
# corpus's texts as written, its hypotheses SentencePiece-decoded text, alike on 1 and 2 ranks.
fixtures="$source_dir/tests/pairs/fixtures"
"$program" prepare pairs --source "$fixtures/sparv.txt" --target "$fixtures/web.txt" --output "$dir/pairs.h5" \
  --source-vocab 60 --target-vocab 60 --validation-books Ruth --test-books "Mark,I Samuel" > /dev/null 2>&1 ||
  fail "prepare pairs"
pair_config="$source_dir/experiments/translation/smoke_seq2seq.yaml"
pair=("data.path=$dir/pairs.h5" seq2seq.max_len=240 model.d_model=16 seq2seq.embed_dim=16 data.batch_size=4
      train.threads=1 logging.progress=off "run.dir=$dir/pairs" train.eval_batches=1)
output=$(timeout 120 "$program" train "$pair_config" "${pair[@]}" train.steps=4 train.eval_every=0 checkpoint.every=4 2>&1) ||
  fail "train on the pair corpus: $output"
for ranks in 1 2; do
  launcher=()
  [ "$ranks" -gt 1 ] && launcher=("$mpiexec" -n "$ranks" --oversubscribe)
  output=$(timeout 120 "${launcher[@]}" "$program" eval "$pair_config" "${pair[@]}" train.resume=auto eval.beam_size=2 \
           eval.max_len=8 "eval.hypotheses=$dir/pairs$ranks/hyp.txt" 2>&1) || fail "eval on the pair corpus, $ranks rank(s): $output"
done
for suffix in "" .ref .src; do
  cmp "$dir/pairs1/hyp.txt$suffix" "$dir/pairs2/hyp.txt$suffix" || fail "pairs: hyp.txt$suffix differs between 1 and 2 ranks"
done
grep "^Ruth" "$fixtures/web.txt" | cut -f2- | diff - "$dir/pairs1/hyp.txt.ref" ||
  fail "pairs: the references are not Ruth's verses as written, in order"
grep "^Ruth" "$fixtures/sparv.txt" | cut -f2- | diff - "$dir/pairs1/hyp.txt.src" || fail "pairs: the sources are not Ruth's"
grep -q "[a-z]" "$dir/pairs1/hyp.txt" || fail "pairs: no hypothesis text"

output=$(timeout 60 "$program" eval "$source_dir/configs/quickstart.yaml" train.resume=auto "run.dir=$dir/run" \
         eval.beam_size=4 2>&1)
rc=$?
[ "$rc" -eq 2 ] || fail "eval.beam_size on a transformer_lm: exit $rc, expected 2"
grep -q "eval.beam_size: model.type = transformer_lm does not decode" <<<"$output" || fail "message: $output"
echo "[eval decoding test] passed"
