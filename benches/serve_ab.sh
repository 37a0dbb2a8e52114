#!/usr/bin/env bash
# Alternating A/B of `syndic serve`: two binaries serve the same index at once, and
# benches/serve_ab.py sends each the same 1,000-document checks in turns, so that a slow spell
# of the machine falls on both (the service's figure swings with the host more than most
# changes move it).
#
#   benches/serve_ab.sh A_BINARY B_BINARY INDEX DOCS.jsonl [ROUNDS]
#
# Example, against the index and held-out documents `KEEP=1 benches/index_1m.sh` leaves in WORK:
#   benches/serve_ab.sh /tmp/base/target/release/syndic target/release/syndic \
#       $WORK/idx $WORK/queries.jsonl 100
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
A=$1 B=$2 IDX=$3 DOCS=$4 ROUNDS=${5:-60}
cd "$(dirname "$0")/.."
LOGS=$(mktemp -d)
trap 'kill $PA $PB 2>/dev/null; wait 2>/dev/null; rm -rf "$LOGS"' EXIT
"$A" serve "$IDX" --listen 127.0.0.1:0 2> "$LOGS/a" & PA=$!
"$B" serve "$IDX" --listen 127.0.0.1:0 2> "$LOGS/b" & PB=$!
for _ in $(seq 300); do
  grep -q http:// "$LOGS/a" && grep -q http:// "$LOGS/b" && break
  sleep 0.1
done
UA=$(grep -o 'http://[0-9.:]*' "$LOGS/a") || { cat "$LOGS/a" >&2; exit 1; }
UB=$(grep -o 'http://[0-9.:]*' "$LOGS/b") || { cat "$LOGS/b" >&2; exit 1; }
echo "A $A"
echo "B $B"
python3 benches/serve_ab.py "$UA" "$UB" "$DOCS" "$ROUNDS"
