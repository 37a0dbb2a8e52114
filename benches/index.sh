#!/usr/bin/env bash
# Figures of the incremental index (issue 19), rerunnable:
#   - gen_news N documents (default 20,000) added in 9 batches (`index create` + 9 `index add`)
#     against one `syndic scan` of the same documents, interleaved, RUNS times (default 3):
#     median seconds of each and their ratio;
#   - pairwise F1 of the export against the scan, and of each against the generator's truth;
#   - `index check` of held-out documents (every tenth, shuffled with a fixed seed) against an
#     index of the others: pairwise F1 against the truth (benches/index_eval.py);
#   - `syndic serve` over that index: single-document POST /check p50/p99 and 1,000-document
#     checks per second, and 8 concurrent clients sending 20,000 checks (benches/index_latency.py);
#   - bytes on disk per document, with and without the compressed texts.
# Usage: benches/index.sh [N]   (BIN=path/to/syndic RUNS=3 GEN=path/to/gen_news.py WORK=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
RUNS=${RUNS:-3}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/syndic}
GEN=${GEN:-/work/shared/corpus/gen_news.py}
WORK=${WORK:-$(mktemp -d)}
[ -x "$BIN" ] || { echo "build first: cargo build --release ($BIN missing)" >&2; exit 1; }
echo "work dir $WORK; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$GEN" --docs "$N" --seed 1 --out "$WORK/news" > /dev/null
C=$WORK/news/corpus.jsonl
T=$WORK/news/truth.jsonl
rm -rf "$WORK/parts" && mkdir -p "$WORK/parts"
split -n l/9 -d --additional-suffix=.jsonl "$C" "$WORK/parts/part-"

# Wall seconds and CPU seconds (user + sys: less sensitive to a shared machine) of a command.
timed() { /usr/bin/time -f "%e %U %S" -a -o "$WORK/times" "$@"; }
sum() { awk '{w += $1; c += $2 + $3} END {printf "%.3f %.3f\n", w, c}' "$WORK/times"; }
scan_w=(); scan_c=(); add_w=(); add_c=()
for r in $(seq "$RUNS"); do
  : > "$WORK/times"; timed "$BIN" scan "$C" -q -o "$WORK/scan.json"
  read -r w c < <(sum); scan_w+=("$w"); scan_c+=("$c")
  rm -rf "$WORK/idx"; : > "$WORK/times"
  timed "$BIN" index create "$WORK/idx" -q
  for p in "$WORK"/parts/part-*.jsonl; do timed "$BIN" index add "$WORK/idx" "$p" -q; done
  read -r w c < <(sum); add_w+=("$w"); add_c+=("$c")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
msw=$(median "${scan_w[@]}"); msc=$(median "${scan_c[@]}"); maw=$(median "${add_w[@]}"); mac=$(median "${add_c[@]}")
echo "scan of $N: wall ${scan_w[*]} s (median $msw), cpu ${scan_c[*]} s (median $msc)"
echo "create + 9 adds: wall ${add_w[*]} s (median $maw), cpu ${add_c[*]} s (median $mac)"
echo "adds / scan: wall $(echo "scale=2; $maw / $msw" | bc), cpu $(echo "scale=2; $mac / $msc" | bc); $(echo "$N / $maw" | bc) docs/s added"

"$BIN" index export "$WORK/idx" -q -o "$WORK/export.json"
python3 - "$WORK/scan.json" > "$WORK/scan_labels.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["clusters"]:
    for m in c["members"]:
        print(json.dumps({"id": m["id"], "story": "c%d" % c["id"]}))
PY
python3 - "$C" "$WORK/scan_labels.jsonl" >> "$WORK/scan_labels.jsonl" <<'PY'
import json, sys
seen = {json.loads(l)["id"] for l in open(sys.argv[2])}
for l in open(sys.argv[1]):
    i = json.loads(l)["id"]
    if i not in seen:
        print(json.dumps({"id": i, "story": "own:" + i}))
PY
f1() { "$BIN" eval "$1" --truth "$2" --json | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["f1"])'; }
echo "pairwise F1: export vs scan $(f1 "$WORK/export.json" "$WORK/scan_labels.jsonl"); vs truth: export $(f1 "$WORK/export.json" "$T"), scan $(f1 "$WORK/scan.json" "$T")"

python3 - "$C" "$WORK" <<'PY'
import random, sys
lines = open(sys.argv[1]).read().splitlines()
random.Random(7).shuffle(lines)
n = len(lines) // 10
open(sys.argv[2] + "/held.jsonl", "w").write("\n".join(lines[:n]) + "\n")
open(sys.argv[2] + "/rest.jsonl", "w").write("\n".join(lines[n:]) + "\n")
PY
rm -rf "$WORK/idx2"
"$BIN" index create "$WORK/idx2" -q
"$BIN" index add "$WORK/idx2" "$WORK/rest.jsonl" -q
"$BIN" index check "$WORK/idx2" "$WORK/held.jsonl" -q -o "$WORK/answers.jsonl"
echo "check of held-out documents: $(python3 benches/index_eval.py "$WORK/answers.jsonl" "$T" "$WORK/rest.jsonl")"

"$BIN" serve "$WORK/idx2" --listen 127.0.0.1:0 2> "$WORK/serve.log" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q http:// "$WORK/serve.log" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$WORK/serve.log")
lat=()
for r in $(seq "$RUNS"); do lat+=("$(python3 benches/index_latency.py "$URL" "$WORK/held.jsonl" 1000 10)"); echo "serve: ${lat[-1]}"; done
echo "load: $(python3 benches/index_latency.py "$URL" "$WORK/held.jsonl" 0 0 8 20000)"
echo "RSS of serve: $(awk '/VmHWM/ {print $2, $3}' /proc/$SERVE/status) (peak)"
kill $SERVE

"$BIN" index stats "$WORK/idx" | python3 -c '
import json, sys
s = json.load(sys.stdin)
d = s["documents"]
print("size: %d bytes for %d documents: %.0f B/doc, %.0f B/doc without the compressed texts; %d segments, %d furniture lines"
      % (s["bytes"], d, s["bytes"] / d, (s["bytes"] - s["text_bytes"]) / d, s["segments"], s["furniture_lines"]))'
