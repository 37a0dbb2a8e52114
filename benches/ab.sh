#!/usr/bin/env bash
# Alternating A/B of whole scans: two syndic binaries on one corpus, run in turns (A, B, A, B,
# ...) so that a slow spell of the machine falls on both, each under /usr/bin/time.
#
#   benches/ab.sh A_BINARY B_BINARY CORPUS [ROUNDS] [-- SCAN OPTIONS...]
#
# Example, this tree against an older commit (built into its own target folder):
#   git worktree add /tmp/base fb3cb0c && (cd /tmp/base && cargo build --release)
#   cargo build --release
#   benches/ab.sh /tmp/base/target/release/syndic target/release/syndic corpus.jsonl 3
#
# Prints one line per run (wall seconds, peak RSS) and the median of each side, and says whether
# the two reports are identical outside their `run` sections (python3).
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
A=$1 B=$2 CORPUS=$3
ROUNDS=${4:-3}
shift $(( $# >= 4 ? 4 : 3 ))
[ "${1:-}" = "--" ] && shift
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cat "$CORPUS" > /dev/null # warm the page cache
for r in $(seq "$ROUNDS"); do
  for side in A B; do
    bin=$A; [ "$side" = B ] && bin=$B
    /usr/bin/time -f "$side %e %M" -o "$OUT/time" "$bin" scan "$CORPUS" -q -o "$OUT/$side.json" "$@"
    read -r s wall rss < "$OUT/time"
    printf '%s round %s: %6.2f s  %6d MiB\n' "$side" "$r" "$wall" $((rss / 1024))
    echo "$side $wall" >> "$OUT/walls"
  done
done
for side in A B; do
  awk -v s="$side" '$1 == s {print $2}' "$OUT/walls" | sort -n |
    awk -v s="$side" '{v[NR] = $1} END {printf "%s median: %.2f s\n", s, v[int((NR + 1) / 2)]}'
done
python3 - "$OUT/A.json" "$OUT/B.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for r in (a, b):
    r.pop("run", None)
print("reports identical outside run" if a == b else "reports differ")
PY
