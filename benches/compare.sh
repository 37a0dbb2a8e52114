#!/usr/bin/env bash
# Side-by-side benchmark: syndic against peer near-duplicate tools on generated corpora.
#
#   benches/compare.sh [--sizes "20000 200000"] [--runs 3] [--peers "gaoya rensa datasketch"]
#                      [--memory-limit 4G] [--threads N] [--seed 7] [--scratch DIR] [--out FILE]
#                      [--timeout SECONDS] [--no-floor] [--syndic-args "..."] [--peers-up-to N]
#   benches/compare.sh --table RESULTS_DIR [--out FILE]   # re-render a finished run's table
#
# For each size it generates a corpus with gen_news.py (reused when already there), builds
# syndic in release, warms the page cache, then runs syndic and each peer RUNS times under
# /usr/bin/time. Each run's output is scored against the generator's truth with score.py, so the
# quality figures come from the timed runs themselves. Reported per tool: the median wall time
# over the runs (and docs/s, MB/s of corpus.jsonl derived from it), the median peak RSS, and the
# precision / recall / F1 / ARI of the median-wall run. Then, per size, syndic's wall time over
# the fastest peer's, and over the floor (benches/floor.rs: read the JSONL and xxh3 every
# 5-character window, in parallel; `+minhash` also builds a 128-value OPH MinHash). Every tool
# gets the same worker count (--threads, default all cores): RAYON_NUM_THREADS, syndic -j,
# --procs for datasketch and rensa, --tasks for datatrove (gaoya follows RAYON_NUM_THREADS).
#
# --peers-up-to N runs the peers only on corpora of at most N documents (syndic and the floor on
# every size): e.g. `--sizes "20000 200000 1000000" --peers-up-to 200000`.
#
# Sizes: 1M documents only when asked (`--sizes 1000000`): about 5.4 GB of JSONL and 11 minutes
# of generation. Peers: gaoya rensa datasketch (run with --verify, their signature check) and
# datatrove (no --verify option). They are installed into a virtualenv ($VENV, default
# $SCRATCH/venv-peers) from requirements-peers.txt on first use.
#
# Peak RSS is what GNU time reports: the largest single process, so for the peers that fork
# worker pools (datasketch, rensa, datatrove) it understates their total memory.
#
# Environment: SHARED (default: ../shared beside the repository), SCRATCH (default
# /tmp/syndic-bench), VENV, PYTHON (interpreter for the venv, default python3), CARGO_TARGET_DIR.
# Output: the Markdown table on stdout and in --out (default $SCRATCH/results/compare-DATE.md);
# every run's raw figures in $SCRATCH/results/DATE/runs.tsv, tool outputs and logs beside it.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$REPO/../shared}
SCRATCH=${SCRATCH:-/tmp/syndic-bench}
PYTHON=${PYTHON:-python3}
SIZES="20000 200000"
RUNS=3
PEERS="gaoya rensa datasketch"
MEMORY_LIMIT=""
THREADS=""
SEED=7
OUT=""
TIMEOUT=""
FLOOR=1
SYNDIC_ARGS=""
TABLE=""
PEERS_UP_TO=""

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) SIZES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --memory-limit) MEMORY_LIMIT=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --scratch) SCRATCH=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --no-floor) FLOOR=0; shift ;;
    --table) TABLE=$2; shift 2 ;;
    --syndic-args) SYNDIC_ARGS=$2; shift 2 ;;
    --peers-up-to) PEERS_UP_TO=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; usage ;;
  esac
done
case $RUNS in ''|*[!0-9]*|0) echo "compare.sh: --runs must be a positive integer" >&2; exit 2 ;; esac

log() { echo "compare.sh: $*" >&2; }

render() {  # render RESULTS_DIR OUT_FILE: the Markdown table from runs.tsv, floor.tsv, meta.tsv
python3 - "$1" "$2" <<'PY'
import collections, csv, math, os, statistics, sys

res, out = sys.argv[1:3]
meta = collections.defaultdict(lambda: "?", res=res)
meta_tsv = os.path.join(res, "meta.tsv")
for line in open(meta_tsv, encoding="utf-8") if os.path.exists(meta_tsv) else []:
    k, _, v = line.rstrip("\n").partition("\t")
    meta[k] = v
rows = list(csv.DictReader(open(os.path.join(res, "runs.tsv")), delimiter="\t"))
floor = {}
floor_tsv = os.path.join(res, "floor.tsv")
for line in open(floor_tsv) if os.path.exists(floor_tsv) else []:
    f = line.rstrip("\n").split("\t")
    if len(f) >= 8:
        floor[(f[0], f[1])] = (float(f[2]), int(f[6]))


def num(x):
    try:
        v = float(x)
    except ValueError:
        return None
    return None if math.isnan(v) else v


sizes, tools, by = [], [], {}
for r in rows:
    if r["size"] not in sizes:
        sizes.append(r["size"])
    if r["tool"] not in tools:
        tools.append(r["tool"])
    by.setdefault((r["size"], r["tool"]), []).append(r)


def summary(rs):
    """Median wall and RSS over the successful runs; quality of the median-wall run."""
    ok = [r for r in rs if r["exit"] == "0" and num(r["wall_s"]) is not None and num(r["f1"]) is not None]
    if not ok:
        return None
    ok.sort(key=lambda r: float(r["wall_s"]))
    med = ok[(len(ok) - 1) // 2]
    return dict(wall=statistics.median(float(r["wall_s"]) for r in ok),
                rss=statistics.median(int(r["peak_kb"]) for r in ok) / 1024,
                bytes=int(med["bytes"]), p=float(med["precision"]), r=float(med["recall"]),
                f1=float(med["f1"]), ari=float(med["ari"]), ok=len(ok), n=len(rs))


L = ["## syndic vs peers (%s)" % meta["stamp"], ""]
L.append("%s (commit %s); %s threads; %s run(s) per tool, median wall and RSS, quality of the "
         "median-wall run; gen_news.py seed %s; memory limit %s; syndic args `%s`; %s; %s." % (
             meta["version"], meta["commit"], meta["threads"], meta["runs"],
             meta["seed"], meta["memory_limit"], meta["syndic_args"], meta["host"],
             meta["cpu"]))
L += ["", "| docs | tool | wall s | docs/s | MB/s | peak RSS MiB | precision | recall | F1 | ARI | ok runs |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
notes = []
for n in sizes:
    docs = int(n)
    best = None
    for t in tools:
        rs = by.get((n, t), [])
        if not rs:
            continue  # not run at this size (--peers-up-to)
        s = summary(rs)
        if s is None:
            L.append("| %s | %s | failed | | | | | | | | 0/%d |" % (f"{docs:,}", t, len(rs)))
            continue
        if t != "syndic" and (best is None or s["wall"] < best[1]):
            best = (t, s["wall"])
        w = max(s["wall"], 1e-9)
        L.append("| %s | %s | %.2f | %s | %.1f | %.0f | %.4f | %.4f | %.4f | %.4f | %d/%d |" % (
            f"{docs:,}", "**syndic**" if t == "syndic" else t, s["wall"], f"{docs / w:,.0f}",
            s["bytes"] / 1e6 / w, s["rss"], s["p"], s["r"], s["f1"], s["ari"], s["ok"], s["n"]))
    for mode, label in (("hash", "floor: read + xxh3 5-char windows"), ("minhash", "floor + 128-value OPH MinHash")):
        if (n, mode) in floor:
            fw, fb = floor[(n, mode)]
            w = max(fw, 1e-9)
            L.append("| %s | %s | %.2f | %s | %.1f | | | | | | |" % (
                f"{docs:,}", label, fw, f"{docs / w:,.0f}", fb / 1e6 / w))
    sy = summary(by.get((n, "syndic"), []))
    parts = []
    if sy and best:
        parts.append("syndic / fastest peer (%s) = **%.2fx** wall time" % (best[0], sy["wall"] / best[1]))
    if sy and (n, "hash") in floor:
        parts.append("syndic / floor = **%.2fx**" % (sy["wall"] / floor[(n, "hash")][0]))
    if sy and (n, "minhash") in floor:
        parts.append("syndic / floor+MinHash = %.2fx" % (sy["wall"] / floor[(n, "minhash")][0]))
    if parts:
        notes.append("- %s docs: %s." % (f"{docs:,}", "; ".join(parts)))
curve = [(int(n), summary(by.get((n, "syndic"), []))) for n in sizes]
curve = [(d, s) for d, s in curve if s]
if len(curve) > 1:
    d0, s0 = curve[0]
    notes += ["", "Growth of syndic's wall time (linear growth keeps the time per document flat):", "",
              "| docs | wall s | µs per document | per-document time vs %s docs | peak RSS MiB |" % f"{d0:,}",
              "|---:|---:|---:|---:|---:|"]
    for d, s in curve:
        notes.append("| %s | %.2f | %.1f | %.2fx | %.0f |" % (
            f"{d:,}", s["wall"], s["wall"] / d * 1e6, (s["wall"] / d) / (s0["wall"] / d0), s["rss"]))
L += [""] + notes + ["", "Raw runs, tool outputs and logs: `%s`." % meta["res"]]
text = "\n".join(L) + "\n"
open(out, "w").write(text)
sys.stdout.write(text)
PY
}

if [ -n "$TABLE" ]; then
  OUT=${OUT:-${TABLE%/}.md}
  render "$TABLE" "$OUT"
  log "table written to $OUT"
  exit 0
fi

SHARED=$(cd "$SHARED" 2>/dev/null && pwd) || {
  echo "compare.sh: shared material not found (set SHARED; default ../shared beside the repo)" >&2
  exit 2
}
GEN=$SHARED/corpus/gen_news.py
BENCH=$SHARED/bench
for f in "$GEN" "$BENCH/score.py" "$BENCH/requirements-peers.txt"; do
  [ -f "$f" ] || { echo "compare.sh: missing $f" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "compare.sh: needs /usr/bin/time (GNU time)" >&2; exit 2; }

VENV=${VENV:-$SCRATCH/venv-peers}
STAMP=$(date +%Y%m%d-%H%M%S)
RES=$SCRATCH/results/$STAMP
OUT=${OUT:-$SCRATCH/results/compare-$STAMP.md}
mkdir -p "$RES" "$(dirname "$OUT")"

# Thread count shared by every tool (default: all cores).
NCPU=$(nproc)
if [ -n "$THREADS" ]; then
  export RAYON_NUM_THREADS=$THREADS
  NCPU=$THREADS
fi

# --- build syndic and the floor bench -----------------------------------------------------
log "building syndic (release) and the floor bench"
(cd "$REPO" && cargo build --release --quiet --bin syndic && cargo bench --quiet --bench floor --no-run) >&2
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
case $TARGET in /*) ;; *) TARGET=$REPO/$TARGET ;; esac
SYNDIC=$TARGET/release/syndic
[ -x "$SYNDIC" ] || { echo "compare.sh: no binary at $SYNDIC" >&2; exit 1; }
SYNDIC_VERSION=$("$SYNDIC" --version)
SCAN_HELP=$("$SYNDIC" scan --help)
SYNDIC_OPTS=(-q)
[ -n "$THREADS" ] && SYNDIC_OPTS+=(-j "$THREADS")
if [ -n "$MEMORY_LIMIT" ]; then
  if grep -q -- '--memory-limit' <<<"$SCAN_HELP"; then
    SYNDIC_OPTS+=(--memory-limit "$MEMORY_LIMIT")
  else
    log "syndic scan has no --memory-limit: running without it"
    MEMORY_LIMIT=""
  fi
fi
# shellcheck disable=SC2206
[ -n "$SYNDIC_ARGS" ] && SYNDIC_OPTS+=($SYNDIC_ARGS)

# --- peers' virtualenv --------------------------------------------------------------------
if [ -n "$PEERS" ] && [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV and installing the peers (once)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$BENCH/requirements-peers.txt" >&2
fi
# datatrove's dedup imports `regex`, which requirements-peers.txt does not list.
if [[ " $PEERS " == *" datatrove "* ]] && ! "$VENV/bin/python" -c 'import regex' 2>/dev/null; then
  log "installing regex into $VENV (needed by datatrove.pipeline.dedup)"
  "$VENV/bin/pip" install -q regex >&2
fi
for p in $PEERS; do
  [ -f "$BENCH/peers/${p}_peer.py" ] || { echo "compare.sh: no peer runner ${p}_peer.py" >&2; exit 2; }
done

# --- corpora ------------------------------------------------------------------------------
corpus_dir() { echo "$SCRATCH/news$1-seed$SEED"; }
for n in $SIZES; do
  d=$(corpus_dir "$n")
  if [ -s "$d/corpus.jsonl" ] && [ -s "$d/truth.jsonl" ] && [ -s "$d/stats.json" ] \
     && grep -q "\"docs\": *$n," "$d/stats.json"; then
    log "reusing $d"
  else
    log "generating $n documents into $d"
    rm -rf "$d.partial"
    python3 "$GEN" --docs "$n" --seed "$SEED" --out "$d.partial" >&2
    rm -rf "$d"
    mv "$d.partial" "$d"
  fi
done

# --- runs ---------------------------------------------------------------------------------
{
  printf 'version\t%s\n' "$SYNDIC_VERSION"
  printf 'threads\t%s\n' "$NCPU"
  printf 'runs\t%s\n' "$RUNS"
  printf 'seed\t%s\n' "$SEED"
  printf 'memory_limit\t%s\n' "${MEMORY_LIMIT:-none}"
  printf 'syndic_args\t%s\n' "${SYNDIC_OPTS[*]}"
  printf 'commit\t%s\n' "$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
  printf 'host\t%s\n' "$(uname -srm)"
  printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  printf 'stamp\t%s\n' "$STAMP"
} > "$RES/meta.tsv"
RUNS_TSV=$RES/runs.tsv
printf 'size\ttool\trun\twall_s\tpeak_kb\texit\tprecision\trecall\tf1\tari\tbytes\n' > "$RUNS_TSV"
FLOOR_TSV=$RES/floor.tsv
: > "$FLOOR_TSV"

# run_one SIZE TOOL RUN OUTFILE CMD...: times CMD, scores OUTFILE, appends a row to runs.tsv.
run_one() {
  local n=$1 tool=$2 r=$3 out=$4; shift 4
  local d tf wall kb rc s bytes
  d=$(corpus_dir "$n")
  tf=$RES/$n/$tool.$r.time
  bytes=$(stat -c %s "$d/corpus.jsonl")
  rm -f "$out"
  local pre=()
  [ -n "$TIMEOUT" ] && pre=(timeout "$TIMEOUT")
  set +e
  /usr/bin/time -f "%e %M" -o "$tf" "${pre[@]}" "$@" > "$RES/$n/$tool.$r.log" 2> "$RES/$n/$tool.$r.err"
  rc=$?
  set -e
  read -r wall kb < <(tail -1 "$tf") || true
  if [ "$rc" -eq 0 ] && [ -s "$out" ]; then
    s=$(python3 "$BENCH/score.py" "$d/truth.jsonl" "$out" --json \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.4f\t%.4f\t%.4f\t%.4f" % (r["precision"], r["recall"], r["f1"], r["ari"]))') \
        || s=$'nan\tnan\tnan\tnan'
  else
    log "$tool failed on $n docs (run $r, exit $rc): see $RES/$n/$tool.$r.err"
    s=$'nan\tnan\tnan\tnan'
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$tool" "$r" "${wall:-nan}" "${kb:-0}" "$rc" "$s" "$bytes" >> "$RUNS_TSV"
  log "$(printf '%8s docs  %-11s run %s: %6ss  %6d MiB  exit %s  P/R/F1/ARI %s' \
        "$n" "$tool" "$r" "${wall:-?}" $(( ${kb:-0} / 1024 )) "$rc" "$(tr '\t' ' ' <<<"$s")")"
}

for n in $SIZES; do
  d=$(corpus_dir "$n")
  mkdir -p "$RES/$n"
  cat "$d/corpus.jsonl" > /dev/null   # warm the page cache
  for r in $(seq 1 "$RUNS"); do
    run_one "$n" syndic "$r" "$RES/$n/syndic.$r.json" \
      "$SYNDIC" scan "${SYNDIC_OPTS[@]}" -o "$RES/$n/syndic.$r.json" "$d/corpus.jsonl"
    for p in $PEERS; do
      if [ -n "$PEERS_UP_TO" ] && [ "$n" -gt "$PEERS_UP_TO" ]; then continue; fi
      # Same worker count as syndic; --verify = the peer's own signature check of candidates.
      case $p in
        datatrove) popts=(--tasks "$NCPU") ;;
        datasketch|rensa) popts=(--verify --procs "$NCPU") ;;
        *) popts=(--verify) ;;
      esac
      run_one "$n" "$p" "$r" "$RES/$n/$p.$r.tsv" \
        "$VENV/bin/python" "$BENCH/peers/${p}_peer.py" "$d/corpus.jsonl" "$RES/$n/$p.$r.tsv" "${popts[@]}"
    done
  done
  if [ "$FLOOR" = 1 ]; then
    log "floor on $n docs"
    floor_args=(--runs "$RUNS" --tsv)
    [ -n "$THREADS" ] && floor_args+=(--threads "$THREADS")
    (cd "$REPO" && cargo bench --quiet --bench floor -- "$d/corpus.jsonl" "${floor_args[@]}") \
      2> "$RES/$n/floor.err" | sed "s/^/$n\t/" >> "$FLOOR_TSV" \
      || log "floor bench failed on $n docs: see $RES/$n/floor.err"
  fi
done

# --- table --------------------------------------------------------------------------------
render "$RES" "$OUT"
log "table written to $OUT"
