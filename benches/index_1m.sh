#!/usr/bin/env bash
# Figures of the incremental index at scale (issue 19), rerunnable:
#   - gen_news N documents (default 1,000,000, `--seed 1`); every 500th is held out as a query,
#     the others are added in BATCHES batches (default 10) with `index add`: wall and CPU
#     seconds of each add (the merges included);
#   - bytes on disk per document, with and without the compressed texts;
#   - `syndic index check` of 1,000 held-out documents (the CLI, wall seconds, median of RUNS);
#   - `syndic serve` over the index: single-document POST /check p50/p99 (2,000 requests one
#     after another), 1,000-document POST /check documents/s (median of 10 batches), then a load test of CLIENTS
#     (default 8) concurrent clients sending LOAD (default 20,000) single-document checks, with
#     the count of errors (benches/index_latency.py); the service's peak RSS.
# Usage: benches/index_1m.sh [N]
#   (BIN=path/to/syndic RUNS=3 BATCHES=10 CLIENTS=8 LOAD=20000 GEN=path/to/gen_news.py
#    WORK=dir; KEEP=1 keeps the corpus and the index in WORK, otherwise they are removed;
#    REUSE=1 measures the index KEEP=1 left in WORK again, without adding)
# Needs about 6 KB of disk a document for the corpus plus 3.5 KB for the index.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}
BATCHES=${BATCHES:-10}
CLIENTS=${CLIENTS:-8}
LOAD=${LOAD:-20000}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/syndic}
GEN=${GEN:-/work/shared/corpus/gen_news.py}
WORK=${WORK:-$(mktemp -d)}
[ -x "$BIN" ] || { echo "build first: cargo build --release ($BIN missing)" >&2; exit 1; }
echo "work dir $WORK; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
IDX=$WORK/idx
if [ "${REUSE:-0}" != 1 ]; then
mkdir -p "$WORK"
# The corpus is made once per WORK and N (it takes minutes at 1M).
if [ ! -s "$WORK/news-$N/corpus.jsonl" ]; then
  python3 "$GEN" --docs "$N" --seed 1 --out "$WORK/news-$N" > /dev/null
fi
C=$WORK/news-$N/corpus.jsonl
awk -v q="$WORK/queries.jsonl" -v r="$WORK/rest.jsonl" 'NR % 500 == 0 {print > q; next} {print > r}' "$C"
rm -rf "$WORK/parts" && mkdir -p "$WORK/parts"
split -n "l/$BATCHES" -d --additional-suffix=.jsonl "$WORK/rest.jsonl" "$WORK/parts/part-"
rm "$WORK/rest.jsonl"
echo "$(wc -l < "$C") documents generated, $(wc -l < "$WORK/queries.jsonl") held out as queries"

rm -rf "$IDX"
"$BIN" index create "$IDX" -q
: > "$WORK/times"
for p in "$WORK"/parts/part-*.jsonl; do
  /usr/bin/time -f "%e %U %S %M" -a -o "$WORK/times" "$BIN" index add "$IDX" "$p" -q
  n=$("$BIN" index stats "$IDX" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["documents"], s["segments"])')
  echo "add $(basename "$p"): $(tail -1 "$WORK/times" | awk '{printf "wall %s s, cpu %.2f s, peak RSS %d MiB", $1, $2 + $3, $4 / 1024}'); documents, segments: $n"
done
awk '{w += $1; c += $2 + $3} END {printf "all adds: wall %.1f s, cpu %.1f s\n", w, c}' "$WORK/times"
rm -rf "$WORK/parts"
fi

"$BIN" index stats "$IDX" | python3 -c '
import json, sys
s = json.load(sys.stdin)
d = s["documents"]
print("size: %d bytes for %d documents: %.0f B/doc, %.0f B/doc without the compressed texts; %d segments, %d furniture lines"
      % (s["bytes"], d, s["bytes"] / d, (s["bytes"] - s["text_bytes"]) / d, s["segments"], s["furniture_lines"]))'

head -1000 "$WORK/queries.jsonl" > "$WORK/q1000.jsonl"
cli=()
for r in $(seq "$RUNS"); do
  /usr/bin/time -f "%e" -o "$WORK/t1" "$BIN" index check "$IDX" "$WORK/q1000.jsonl" -q -o "$WORK/answers.jsonl"
  cli+=("$(cat "$WORK/t1")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m=$(median "${cli[@]}")
echo "index check of 1,000 documents (CLI, process start and reading included): ${cli[*]} s (median $m s, $(echo "1000 / $m" | bc) documents/s); $(grep -c '"duplicate":true' "$WORK/answers.jsonl") with a copy"

"$BIN" serve "$IDX" --listen 127.0.0.1:0 2> "$WORK/serve.log" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q http:// "$WORK/serve.log" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/serve.log")
kill -0 $SERVE || { echo "serve did not start: $(cat "$WORK/serve.log")" >&2; exit 1; }
echo "serve started: RSS $(awk '/VmRSS/ {print $2, $3}' /proc/$SERVE/status)"
for r in $(seq "$RUNS"); do
  echo "serve: $(python3 benches/index_latency.py "$URL" "$WORK/queries.jsonl" 2000 10 "$CLIENTS" 0)"
done
echo "load: $(python3 benches/index_latency.py "$URL" "$WORK/queries.jsonl" 0 0 "$CLIENTS" "$LOAD")"
echo "RSS of serve: $(awk '/VmHWM|RssAnon|RssFile/ {printf "%s %s %s; ", $1, $2, $3}' /proc/$SERVE/status)"
kill $SERVE

if [ "${KEEP:-0}" != 1 ]; then rm -rf "$IDX" "$WORK/news-$N" "$WORK/queries.jsonl"; fi
