#!/usr/bin/env bash
# One scan over two processes against one process on gen_news 200k: wall time of 2 processes x
# 1 thread (`--hosts` over loopback, `-j 1`) against `-j 2` (1 process x 2 threads),
# interleaved, medians of ROUNDS; each process's peak memory and CPU time (user + system); the
# bytes each process sent its
# peer per document, in all and by step (the processes print them on stderr, process 0 also the
# final signatures it received); and whether the two reports are the same outside `run`.
#
#   benches/distributed.sh [DOCS] [ROUNDS] [FILES]   (defaults: 200000 documents, 3 rounds, 8 files)
#
# BASE=/path/to/an/older/syndic also runs that binary's 2 processes x 1 thread in each round,
# interleaved with the others, for a before/after ratio. FILES=1 gives one file, which the two
# processes read in parts.
#
# gen_news writes one corpus.jsonl; a run over several processes splits whole files, so the
# corpus is cut into FILES files (in order, at line ends) and both runs read the same files.
# The corpus is generated once under $WORK (default /tmp).
set -euo pipefail
DOCS=${1:-200000}
ROUNDS=${2:-3}
FILES=${3:-8}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/tmp}
GEN=${GEN:-$ROOT/../shared/corpus/gen_news.py}
CORPUS=$WORK/gn$DOCS
PARTS=$WORK/gn$DOCS-parts$FILES
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

[ -f "$CORPUS/corpus.jsonl" ] || python3 "$GEN" --docs "$DOCS" --seed 7 --out "$CORPUS"
if [ ! -d "$PARTS" ]; then
  mkdir -p "$PARTS.tmp"
  split -n "l/$FILES" -d -a 2 --additional-suffix=.jsonl "$CORPUS/corpus.jsonl" "$PARTS.tmp/part"
  mv "$PARTS.tmp" "$PARTS"
fi
(cd "$ROOT" && cargo build --release --quiet)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/syndic
cat "$PARTS"/*.jsonl > /dev/null # warm the page cache
cpu() { awk '{printf "%.2f", $3 + $4}' "$1"; } # user + system seconds of a /usr/bin/time file

# The two processes are started as on two hosts (a hosts file of two loopback ports, the same
# command with --process 0 and 1), each under /usr/bin/time for its own peak memory.
python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print("\n".join("127.0.0.1:%d" % x.getsockname()[1] for x in s))' > "$OUT/hosts"
for r in $(seq "$ROUNDS"); do
  /usr/bin/time -f "%e %M %U %S" -o "$OUT/t1" "$BIN" scan -q -j 2 "$PARTS"/*.jsonl -o "$OUT/one.json"
  start=$(date +%s.%N)
  for p in 0 1; do
    /usr/bin/time -f "%e %M %U %S" -o "$OUT/p$p" "$BIN" scan -q --hosts "$OUT/hosts" --process $p -j 1 \
      "$PARTS"/*.jsonl -o "$OUT/two.json" 2> "$OUT/err$p" &
  done
  wait
  t2=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
  cat "$OUT"/err0 "$OUT"/err1 | grep 'bytes sent' | sed 's/^/  /'
  cat "$OUT"/err0 "$OUT"/err1 \
    | grep -o 'process [0-9]* of [0-9]*: [0-9]* documents read, [0-9]* bytes' \
    | awk '{print $2, $5, $8}' >> "$OUT/bytes"
  echo "round $r: 1 process x 2 threads $(cut -d' ' -f1 "$OUT/t1") s, peak $(cut -d' ' -f2 "$OUT/t1") KB;" \
    "2 processes x 1 thread $t2 s, peak $(cut -d' ' -f2 "$OUT/p0") KB (process 0)" \
    "and $(cut -d' ' -f2 "$OUT/p1") KB (process 1); CPU $(cpu "$OUT/t1") s (1 process)," \
    "$(cpu "$OUT/p0") and $(cpu "$OUT/p1") s (processes 0 and 1); load average" \
    "$(cut -d' ' -f1 /proc/loadavg)"
  echo "$(cut -d' ' -f1 "$OUT/t1") $t2 $(cut -d' ' -f2 "$OUT/t1") $(cut -d' ' -f2 "$OUT/p0") $(cut -d' ' -f2 "$OUT/p1") $(cpu "$OUT/t1") $(cpu "$OUT/p0") $(cpu "$OUT/p1")" >> "$OUT/times"
  if [ -n "${BASE:-}" ]; then
    start=$(date +%s.%N)
    for p in 0 1; do
      /usr/bin/time -f "%e %M %U %S" -o "$OUT/b$p" "$BASE" scan -q --hosts "$OUT/hosts" --process $p -j 1 \
        "$PARTS"/*.jsonl -o "$OUT/base.json" 2> "$OUT/berr$p" &
    done
    wait
    t3=$(python3 -c "import time; print(f'{time.time() - $start:.2f}')")
    cat "$OUT"/berr0 "$OUT"/berr1 | grep 'bytes sent' | sed 's/^/  base /'
    echo "round $r: base 2 processes x 1 thread $t3 s, peak $(cut -d' ' -f2 "$OUT/b0") KB (process 0)" \
      "and $(cut -d' ' -f2 "$OUT/b1") KB (process 1); CPU $(cpu "$OUT/b0") and $(cpu "$OUT/b1") s"
    echo "$t3 $(cut -d' ' -f2 "$OUT/b0") $(cut -d' ' -f2 "$OUT/b1") $(cpu "$OUT/b0") $(cpu "$OUT/b1")" >> "$OUT/base"
  fi
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
out = sys.argv[1]
times = [tuple(map(float, l.split())) for l in open(f"{out}/times")]
one = statistics.median(t[0] for t in times)
two = statistics.median(t[1] for t in times)
print(f"median: 1 process x 2 threads {one:.2f} s; 2 processes x 1 thread {two:.2f} s; "
      f"ratio {two / one:.2f}x")
for i, what in [(2, "1 process"), (3, "process 0 of 2"), (4, "process 1 of 2")]:
    print(f"peak memory, {what}: {statistics.median(t[i] for t in times) / 1024:.0f} MiB (median); "
          f"CPU {statistics.median(t[i + 3] for t in times):.2f} s (median)")
print("ratio of 2 x 1 to 1 x 2 within each round:",
      ", ".join(f"{t[1] / t[0]:.2f}x" for t in times))
try:
    base = [tuple(map(float, l.split())) for l in open(f"{out}/base")]
    b = statistics.median(t[0] for t in base)
    print(f"base: 2 processes x 1 thread {b:.2f} s (ratio to 1 process x 2 threads {b / one:.2f}x; "
          f"this build's 2 processes take {two / b:.2f}x the base's); peak memory process 0 "
          f"{statistics.median(t[1] for t in base) / 1024:.0f} MiB, process 1 "
          f"{statistics.median(t[2] for t in base) / 1024:.0f} MiB; CPU process 0 "
          f"{statistics.median(t[3] for t in base):.2f} s, process 1 "
          f"{statistics.median(t[4] for t in base):.2f} s (medians)")
    print("this build's 2 x 1 against the base's within each round:",
          ", ".join(f"{t[1] / b[0]:.2f}x" for t, b in zip(times, base)))
except FileNotFoundError:
    pass
by = {}
for l in open(f"{out}/bytes"):
    p, docs, sent = l.split()
    by.setdefault(p, []).append((int(docs), int(sent)))
total_docs = None
for p, runs in sorted(by.items()):
    docs = runs[0][0]
    sent = statistics.median(s for _, s in runs)
    print(f"process {p}: read {docs} documents, sent {sent / 1e6:.1f} MB "
          f"({sent / docs:.0f} bytes per document it read)")
a = json.load(open(f"{out}/one.json")); a.pop("run")
b = json.load(open(f"{out}/two.json")); b.pop("run")
print("reports outside run:", "identical" if a == b else "DIFFERENT")
stages = json.load(open(f"{out}/two.json"))["run"]["stages"]
print("process 0's stages (last run):", ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
      if isinstance(stages, dict) else stages)
EOF
