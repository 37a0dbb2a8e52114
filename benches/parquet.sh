#!/usr/bin/env bash
# Parquet input against JSONL: `syndic scan` over the gen_news corpus as JSONL and the same
# records as Parquet (examples/jsonl_to_parquet.rs: id, source, date, text as string columns,
# snappy), run interleaved ROUNDS times in release; prints each run, the medians and the ratio.
#
#   benches/parquet.sh [DOCS] [ROUNDS]        (defaults: 200000 documents, 3 rounds)
#
# Needs python3 and ../shared/corpus/gen_news.py (the corpus is generated once under $WORK,
# default /tmp, and converted once). Both reports must hold the same clusters.
set -euo pipefail
DOCS=${1:-200000}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/tmp}
GEN=${GEN:-$ROOT/../shared/corpus/gen_news.py}
[ -f "$GEN" ] || GEN=/work/shared/corpus/gen_news.py
CORPUS=$WORK/gn$DOCS
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

[ -f "$CORPUS/corpus.jsonl" ] || python3 "$GEN" --docs "$DOCS" --seed 7 --out "$CORPUS"
(cd "$ROOT" && cargo build --release --quiet --bin syndic --example jsonl_to_parquet)
TGT=${CARGO_TARGET_DIR:-$ROOT/target}/release
BIN=$TGT/syndic
[ -f "$CORPUS/corpus.parquet" ] ||
  "$TGT/examples/jsonl_to_parquet" "$CORPUS/corpus.jsonl" "$CORPUS/corpus.parquet"
ls -l "$CORPUS/corpus.jsonl" "$CORPUS/corpus.parquet"
cat "$CORPUS/corpus.jsonl" "$CORPUS/corpus.parquet" > /dev/null # warm the page cache

for r in $(seq "$ROUNDS"); do
  for f in jsonl parquet; do
    /usr/bin/time -f "%e %M" -o "$OUT/t" "$BIN" scan -q "$CORPUS/corpus.$f" -o "$OUT/$f.json"
    read -r secs kb < "$OUT/t"
    echo "$f $secs $kb" >> "$OUT/times"
    echo "round $r: $f $secs s, max RSS $((kb / 1024)) MiB"
  done
done

python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
t = {}
for line in open(f"{out}/times"):
    f, s, _ = line.split()
    t.setdefault(f, []).append(float(s))
clusters = {f: sorted(sorted(m["id"] for m in c["members"]) for c in json.load(open(f"{out}/{f}.json"))["clusters"]) for f in t}
assert clusters["jsonl"] == clusters["parquet"], "the two reports differ"
j, p = statistics.median(t["jsonl"]), statistics.median(t["parquet"])
print(f"median jsonl {j:.2f} s, parquet {p:.2f} s: parquet/jsonl = {p / j:.3f} ({len(clusters['jsonl'])} clusters, the same in both)")
PY
