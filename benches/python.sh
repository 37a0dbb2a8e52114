#!/usr/bin/env bash
# syndic.scan over a pyarrow Table against `syndic scan` on the same records (gen_news, JSONL),
# both release builds, interleaved: ROUNDS runs of each, medians and their ratio.
#
#   benches/python.sh [DOCS] [ROUNDS]        (defaults: 200000 documents, 3 rounds)
#
# Needs python3 (with venv and pip: maturin and pyarrow come from PyPI) and
# ../shared/corpus/gen_news.py; the corpus is generated once under $WORK (default /tmp), the
# venv is $VENV (default $WORK/syndic-bench-venv); BIN names a release build of the command
# instead of building one. The table is read from the JSONL with
# pyarrow.json before the timed runs (not timed): the Python time is the call
# `syndic.scan(table)`, report included; the command's is the process, reading the JSONL and
# writing its report to a file.
set -euo pipefail
DOCS=${1:-200000}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/tmp}
GEN=${GEN:-$ROOT/../shared/corpus/gen_news.py}
CORPUS=$WORK/gn$DOCS
VENV=${VENV:-$WORK/syndic-bench-venv}

[ -f "$CORPUS/corpus.jsonl" ] || python3 "$GEN" --docs "$DOCS" --seed 7 --out "$CORPUS"
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --locked --quiet)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/syndic
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet maturin pyarrow
"$VENV/bin/pip" install --quiet --force-reinstall --no-deps "$ROOT/python"

"$VENV/bin/python" - "$BIN" "$CORPUS/corpus.jsonl" "$ROUNDS" <<'EOF'
import json, os, statistics, subprocess, sys, tempfile, time

import pyarrow.json
import syndic

binary, corpus, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = time.perf_counter()
table = pyarrow.json.read_json(corpus, read_options=pyarrow.json.ReadOptions(block_size=1 << 26))
print(f"table: {table.num_rows} rows, {table.nbytes / 1e6:.0f} MB, read in {time.perf_counter() - t:.2f} s (not timed)")
out = os.path.join(tempfile.mkdtemp(), "r.json")
cli, py = [], []
for r in range(rounds):
    t = time.perf_counter()
    subprocess.run([binary, "scan", "-q", corpus, "-o", out], check=True)
    cli.append(time.perf_counter() - t)
    t = time.perf_counter()
    rep = syndic.scan(table)
    py.append(time.perf_counter() - t)
    want = json.load(open(out))
    got = json.loads(rep.to_json())
    same = got["clusters"] == want["clusters"] and got["boilerplate"] == want["boilerplate"]
    print(f"round {r + 1}: syndic scan {cli[-1]:.2f} s, syndic.scan(table) {py[-1]:.2f} s, same clusters: {same}")
    assert same
c, p = statistics.median(cli), statistics.median(py)
print(f"medians of {rounds}: syndic scan {c:.2f} s, syndic.scan(table) {p:.2f} s, ratio {p / c:.2f}")
EOF
