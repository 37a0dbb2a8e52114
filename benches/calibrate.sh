#!/usr/bin/env bash
# Calibration: the measurements behind syndic's defaults (BENCHMARKS.md, "Calibration").
#
#   benches/calibrate.sh [SEED...]        (default seeds: 7 11)
#
# Generates gen_news corpora of 20,000 documents (reused when present under $WORK), runs
# `syndic scan` with the defaults and with the alternatives the defaults were chosen against,
# and prints one row per configuration and seed: candidate pairs, verified pairs, pairwise
# precision / recall / F1 / ARI (../shared/bench/score.py) and the boilerplate line scores
# (../shared/bench/score_lines.py). Needs python3 and a release build (built here).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SHARED=${SHARED:-../shared}
WORK=${WORK:-/tmp/syndic-calibrate}
SEEDS=${*:-7 11}
mkdir -p "$WORK"
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/syndic

configs=(
  "defaults|"
  "k=5, 25x5 (threshold-0.5 banding)|--shingle 5 --bands 25 --rows 5"
  "k=5, 37x3|--shingle 5"
  "k=6|--shingle 6"
  "k=8|--shingle 8"
  "25x5 banding|--bands 25 --rows 5"
  "32x4 banding|--bands 32 --rows 4"
  "containment 0.8|--containment 0.8"
  "no containment|--no-containment"
  "components (no anti-chaining)|--cluster components"
  "no boilerplate masking|--no-boilerplate"
  "boilerplate min stories 3|--boilerplate-min-stories 3 --boilerplate-min-docs 3"
  "exact verification|--verify exact"
)

printf '| configuration | seed | candidates | verified | precision | recall | F1 | ARI | boilerplate P | boilerplate R | story lines flagged |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for seed in $SEEDS; do
  C=$WORK/news20k_$seed
  [ -f "$C/corpus.jsonl" ] || python3 "$SHARED/corpus/gen_news.py" --docs 20000 --seed "$seed" --out "$C" > /dev/null
  for cfg in "${configs[@]}"; do
    name=${cfg%%|*}; args=${cfg#*|}
    # shellcheck disable=SC2086
    "$BIN" scan "$C/corpus.jsonl" -q $args -o "$WORK/r.json" --annotations "$WORK/a.jsonl"
    read -r cand ver < <(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['stats']; print(s['candidate_pairs'], s['verified_pairs'])" "$WORK/r.json")
    read -r p r f a < <(python3 "$SHARED/bench/score.py" "$C/truth.jsonl" "$WORK/r.json" --json | python3 -c "import json,sys; d=json.load(sys.stdin); print('%.4f %.4f %.4f %.4f' % (d['precision'], d['recall'], d['f1'], d['ari']))")
    read -r bp br bfp < <(python3 "$SHARED/bench/score_lines.py" "$WORK/a.jsonl" "$C/corpus.jsonl" "$C/truth.jsonl" --json | python3 -c "import json,sys; d=json.load(sys.stdin); print('%.4f %.4f %d' % (d['precision'], d['recall'], d['fp']))")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$seed" "$cand" "$ver" "$p" "$r" "$f" "$a" "$bp" "$br" "$bfp"
  done
done
