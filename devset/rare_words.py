#!/usr/bin/env python3
"""How well the share of the smaller document's rare words found in the larger separates copies
from other pairs, among the labelled pairs of middling containment (0.5 to 0.75 on raw 7-shingles).

    python3 devset/rare_words.py ../shared/corpus/saudinewsnet.jsonl.gz

A word is rare when at most 20 documents of the corpus hold it (and it has 3 letters or more).
Prints, for each threshold, the copy/rewrite pairs and the different pairs that reach it: the
measure is a candidate second rule for that band (see the issue notes). Standard library only.
"""
import collections
import gzip
import json
import re
import sys
from pathlib import Path

from sample import norm

HERE = Path(__file__).resolve().parent


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    pairs = [json.loads(l) for l in open(HERE / "pairs.jsonl", encoding="utf-8")]
    need = {x for p in pairs for x in (p["a"], p["b"])}
    df = collections.Counter()
    words = {}
    with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            w = set(norm(re.sub(r"[^\w\s]", " ", r["text"])).split())
            df.update(w)
            if r["id"] in need:
                words[r["id"]] = w
    rows = []
    for p in pairs:
        if not 0.5 <= p["containment"] < 0.75:
            continue
        a, b = words[p["a"]], words[p["b"]]
        small, large = (a, b) if len(a) <= len(b) else (b, a)
        rare = [w for w in small if df[w] <= 20 and len(w) > 2]
        share = sum(w in large for w in rare) / max(1, len(rare))
        rows.append((p["label"] != "different", share))
    print(f"{len(rows)} pairs in the band, {sum(r[0] for r in rows)} of them copy or rewrite")
    for t in (0.5, 0.6, 0.7, 0.8, 0.9):
        pos = sum(1 for ok, s in rows if ok and s >= t)
        neg = sum(1 for ok, s in rows if not ok and s >= t)
        print(f"rare-word share >= {t}: copy/rewrite {pos}, different {neg}")


if __name__ == "__main__":
    main()
