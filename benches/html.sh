#!/usr/bin/env bash
# The visual report's figures on gen_news 200k: page size, the time `--html` adds to a scan,
# headless Chromium's time until the page is ready (data-ready="1"), and the time to open the
# largest cluster, measured in the page (performance.now around the open: data-open-ms).
#
#   benches/html.sh [DOCS] [ROUNDS]        (defaults: 200000 documents, 3 rounds)
#
# Needs python3, Debian's chromium and ../shared/corpus/gen_news.py (the corpus is generated
# once under $WORK, default /tmp). The browser is driven over the DevTools protocol on a pipe
# (no virtual time, so that the page's clock is the real one); "ready" is the wall time from
# the navigation to data-ready="1", polled every 20 ms. Prints medians of ROUNDS.
set -euo pipefail
DOCS=${1:-200000}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/tmp}
GEN=${GEN:-$ROOT/../shared/corpus/gen_news.py}
CORPUS=$WORK/gn$DOCS
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

[ -f "$CORPUS/corpus.jsonl" ] || python3 "$GEN" --docs "$DOCS" --seed 7 --out "$CORPUS"
(cd "$ROOT" && cargo build --release --quiet)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/syndic
cat "$CORPUS/corpus.jsonl" > /dev/null # warm the page cache

for r in $(seq "$ROUNDS"); do
  /usr/bin/time -f "%e" -o "$OUT/t-scan" "$BIN" scan -q "$CORPUS/corpus.jsonl" -o "$OUT/r.json"
  /usr/bin/time -f "%e" -o "$OUT/t-html" "$BIN" scan -q "$CORPUS/corpus.jsonl" -o "$OUT/r.json" --html "$OUT/r.html"
  echo "scan $(cat "$OUT/t-scan") s; scan --html $(cat "$OUT/t-html") s" | tee -a "$OUT/scans"
done

python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, os, re, statistics, subprocess, sys, tempfile, time

out, rounds = sys.argv[1], int(sys.argv[2])
page = os.path.join(out, "r.html")
report = json.load(open(os.path.join(out, "r.json")))
big = max(report["clusters"], key=lambda c: c["size"])
scans = [l.split() for l in open(os.path.join(out, "scans"))]

class Browser:
    """Chromium with --remote-debugging-pipe: commands on fd 3, replies on fd 4, NUL-separated."""
    def __init__(self):
        self.cmd_r, self.cmd_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        self.profile = tempfile.mkdtemp()
        def fds():
            os.dup2(self.cmd_r, 3)
            os.dup2(self.res_w, 4)
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--remote-debugging-pipe",
             "--user-data-dir=" + self.profile, "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(self.cmd_r)
        os.close(self.res_w)
        self.buf = b""
        self.next = 0

    def call(self, method, params=None, session=None):
        self.next += 1
        msg = {"id": self.next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.res_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return reply["result"]

    def close(self):
        self.proc.kill()
        self.proc.wait()

def attrs(b, session):
    expr = "JSON.stringify(document.body ? Object.assign({}, document.body.dataset, " \
           "{open: (document.getElementById('view') || {dataset: {}}).dataset.openMs}) : {})"
    r = b.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session)
    return json.loads(r["result"]["value"])

def ready_time(fragment):
    b = Browser()
    try:
        t = b.call("Target.createTarget", {"url": "about:blank"})
        s = b.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})["sessionId"]
        b.call("Page.enable", session=s)
        t0 = time.monotonic()
        b.call("Page.navigate", {"url": "file://" + page + fragment}, s)
        while True:
            a = attrs(b, s)
            if a.get("ready") == "1":
                return time.monotonic() - t0, a
            if time.monotonic() - t0 > 120:
                raise RuntimeError("not ready after 120 s: %r" % a)
            time.sleep(0.02)
    finally:
        b.close()

def open_time(cid):
    """Opens cluster cid in a ready page (after the chunk holding it was inflated once)."""
    b = Browser()
    try:
        t = b.call("Target.createTarget", {"url": "about:blank"})
        s = b.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})["sessionId"]
        b.call("Page.navigate", {"url": "file://" + page}, s)
        while attrs(b, s).get("ready") != "1":
            time.sleep(0.02)
        times = []
        for frag in ["#c%d" % cid, "#clusters", "#c%d" % cid]:
            b.call("Runtime.evaluate", {"expression": "location.hash = %r" % frag}, s)
            time.sleep(0.5)
            if frag != "#clusters":
                times.append(float(attrs(b, s)["open"]))
        return times
    finally:
        b.close()

size = os.path.getsize(page)
print("corpus: %d documents, %d clusters; largest cluster c%d (%d members)" % (
    report["stats"]["documents"], len(report["clusters"]), big["id"], big["size"]))
print("page: %d bytes (%.1f MB, %.1f MiB)" % (size, size / 1e6, size / 2**20))
print("scan: %.1f s median; scan --html: %.1f s median" % (
    statistics.median(float(l[1]) for l in scans), statistics.median(float(l[5]) for l in scans)))
ready, inner, opens = [], [], []
for r in range(rounds):
    wall, a = ready_time("")
    assert a.get("errors") == "0", a
    ready.append(wall)
    inner.append(float(a["readyMs"]) / 1000)
    wall, a = ready_time("#c%d" % big["id"])
    assert a.get("errors") == "0", a
    first, again = open_time(big["id"])
    opens.append((float(a["open"]), first, again))
    print("round %d: ready %.2f s (script %.2f s); #c%d ready %.2f s, open %.0f ms in it; "
          "open in a ready page %.0f ms, again %.0f ms" % (
        r + 1, ready[-1], inner[-1], big["id"], wall, opens[-1][0], first, again))
print("median: ready %.2f s after navigation (script %.2f s of it); opening the %d-member "
      "cluster %.0f ms (in a ready page; %.0f ms once its chunk is inflated)" % (
    statistics.median(ready), statistics.median(inner), big["size"],
    statistics.median(o[1] for o in opens), statistics.median(o[2] for o in opens)))
EOF
