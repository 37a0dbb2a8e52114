#!/usr/bin/env bash
# Remakes docs/report.png, the README's screenshot of the visual report over the bundled data
# (cluster 0 opened), with Debian's chromium run headless. Arabic needs a font with Arabic
# glyphs (Debian's fonts-noto-core).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
(cd "$ROOT" && cargo build --release --quiet)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/syndic
"$BIN" scan -q "$ROOT/fixtures/syndication/corpus.jsonl" "$ROOT/fixtures/boilerplate/corpus.jsonl" \
    -o "$OUT/report.json" --html "$OUT/report.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000 \
    --window-size=1280,900 --screenshot="$ROOT/docs/report.png" "file://$OUT/report.html#c0"
