#!/usr/bin/env python3
"""The copy/rewrite pairs of the development set that a report leaves apart, with their raw
containment, whether both, one or neither document is in a cluster, and the labeller's note;
then how many of the notes describe an article that prints a story among other material
(a roundup, a story quoted inside a longer report), which no partition into clusters of mutual
copies can keep together with every story it prints.

    python3 devset/misses.py snn.json

Standard library only. Recorded in BENCHMARKS.md ("Experiments tried and dropped").
"""
import collections
import json
import re
import sys
from pathlib import Path

COMPOSITE = re.compile(
    r"roundup|second part|part of|inside|within|adds (a|other|the|more)|then adds|appends", re.I
)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    pairs = [json.loads(l) for l in open(Path(__file__).resolve().parent / "pairs.jsonl")]
    report = json.load(open(sys.argv[1]))
    cluster = {m["id"]: c["id"] for c in report["clusters"] for m in c["members"]}
    rows = []
    for p in pairs:
        a, b = p["a"], p["b"]
        if p["label"] == "different" or (a in cluster and cluster.get(b) == cluster[a]):
            continue
        where = "both-apart" if a in cluster and b in cluster else (
            "one" if a in cluster or b in cluster else "none")
        rows.append((p["containment"], where, p["label"], p["note"], a, b))
    rows.sort()
    for r in rows:
        print(f"{r[0]:.2f} {r[1]:10s} {r[2]:7s} {r[4]} {r[5]} | {r[3]}")
    composite = sum(1 for r in rows if COMPOSITE.search(r[3]))
    print(f"\n{len(rows)} copy/rewrite pairs apart: {dict(collections.Counter(r[1] for r in rows))}")
    print(f"{composite} of them with a note describing a story printed among other material")


if __name__ == "__main__":
    main()
