#!/usr/bin/env python3
"""Whether an IDF-weighted word containment (the share of the smaller document's word weight,
log(N / df), found in the larger) separates copies from other pairs, by band of raw 7-shingle
containment, among the labelled pairs; and how many copy/rewrite pairs each rule would add that
the report leaves apart ("now missed").

    python3 devset/idf_words.py ../shared/corpus/saudinewsnet.jsonl.gz snn.json

Standard library only. Recorded in BENCHMARKS.md ("Experiments tried and dropped").
"""
import collections, gzip, json, re, sys, math
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample import norm
if len(sys.argv) != 3:
    raise SystemExit(__doc__)
pairs = [json.loads(l) for l in open(Path(__file__).resolve().parent / "pairs.jsonl")]
need = {x for p in pairs for x in (p["a"], p["b"])}
df = collections.Counter(); words = {}; N = 0
with gzip.open(sys.argv[1], "rt") as f:
    for line in f:
        r = json.loads(line); N += 1
        w = set(norm(re.sub(r"[^\w\s]", " ", r["text"])).split())
        df.update(w)
        if r["id"] in need: words[r["id"]] = w
rep = json.load(open(sys.argv[2]))
cl = {}
for c in rep["clusters"]:
    for m in c["members"]:
        cl[m["id"]] = c["id"] if "id" in c else c["representative"]
rows = []
for p in pairs:
    a, b = words[p["a"]], words[p["b"]]
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    wt = lambda w: math.log(N / df[w])
    tot = sum(wt(w) for w in small); inter = sum(wt(w) for w in small if w in large)
    wc = inter / max(tot, 1e-9)
    same = p["a"] in cl and cl.get(p["a"]) == cl.get(p["b"])
    rows.append((p["label"], p["containment"], wc, same, len(small)))
for lo, hi in [(0, .3), (.3, .45), (.45, .55), (.55, .7), (.7, .8), (.8, 1.01)]:
    band = [r for r in rows if lo <= r[1] < hi]
    print(f"c in [{lo},{hi}): {len(band)} pairs")
    for t in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8):
        pos = sum(1 for r in band if r[0] != "different" and r[2] >= t)
        neg = sum(1 for r in band if r[0] == "different" and r[2] >= t)
        missed = sum(1 for r in band if r[0] != "different" and r[2] >= t and not r[3])
        print(f"   wc>={t}: pos {pos}/{sum(1 for r in band if r[0]!='different')}, neg {neg}/{sum(1 for r in band if r[0]=='different')}, pos now missed {missed}")
