#!/usr/bin/env python3
"""Draw the pairs and recurring lines of the SaudiNewsNet development set (ids only, no text).

    python3 devset/sample.py ../shared/corpus/saudinewsnet.jsonl.gz REPORT.json OUT_DIR

REPORT.json is a `syndic scan` report of the same corpus (its clusters are one stratum key, so
that pairs syndic groups and pairs it leaves apart are both drawn). Writes OUT_DIR/pairs.jsonl
(`{"a", "b", "stratum", "containment", "jaccard"}`) and OUT_DIR/lines.jsonl (`{"id", "line",
"docs", "sources", "stratum"}`), to be read and labelled (devset/show.py prints an item).

Pairs: every pair of documents sharing three or more word 5-grams that stand in at most 30
documents (shared furniture does not make a pair), plus every pair syndic puts in one cluster;
each measured exactly (character 7-shingles of a lightly normalized text: containment of the
smaller in the larger, Jaccard), then drawn at random within strata of containment x "syndic
clusters it". Lines: normalized lines standing in at least two documents, drawn within strata
of document count x source spread x "syndic flags it". Deterministic (seeded).

Standard library only.
"""
import gzip
import json
import random
import re
import sys
import unicodedata
from collections import defaultdict

HARAKAT = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def norm(s):
    s = unicodedata.normalize("NFKC", s).lower()
    s = HARAKAT.sub("", s).translate(FOLD)
    return " ".join(s.split())


def shingles(t, k=7):
    return {hash(t[i : i + k]) for i in range(max(1, len(t) - k + 1))}


def measure(a, b):
    if not a or not b:
        return 0.0, 0.0
    inter = len(a & b)
    return inter / min(len(a), len(b)), inter / len(a | b)


C_BINS = [0.0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.98, 1.01]


def cbin(c):
    for i in range(len(C_BINS) - 1):
        if c < C_BINS[i + 1]:
            return f"c{C_BINS[i]:.2f}-{C_BINS[i + 1]:.2f}"
    return "c1"


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    corpus, report_path, out = sys.argv[1:]
    docs = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["text"].strip():
                docs.append((r["id"], r["source"], r["text"]))
    index = {d[0]: i for i, d in enumerate(docs)}
    texts = [norm(t) for _, _, t in docs]
    report = json.load(open(report_path, encoding="utf-8"))
    cluster_of = {}
    for c in report["clusters"]:
        for m in c["members"]:
            cluster_of[m["id"]] = c["id"]

    # Candidate pairs: shared rare word 5-grams.
    post = defaultdict(list)
    for i, t in enumerate(texts):
        w = t.split()
        for g in {" ".join(w[j : j + 5]) for j in range(len(w) - 4)}:
            post[g].append(i)
    shared = defaultdict(int)
    for ds in post.values():
        if 2 <= len(ds) <= 30:
            for x in range(len(ds)):
                for y in range(x + 1, len(ds)):
                    shared[(ds[x], ds[y])] += 1
    pairs = {p for p, n in shared.items() if n >= 3}
    for c in report["clusters"]:
        ms = sorted(index[m["id"]] for m in c["members"] if m["id"] in index)
        for x in range(len(ms)):
            for y in range(x + 1, len(ms)):
                pairs.add((ms[x], ms[y]))
    sh = {}

    def s(i):
        if i not in sh:
            sh[i] = shingles(texts[i])
        return sh[i]

    strata = defaultdict(list)
    for a, b in sorted(pairs):
        if texts[a] == texts[b]:
            continue  # exact copies after normalization: nothing to judge
        c, j = measure(s(a), s(b))
        ida, idb = docs[a][0], docs[b][0]
        same = ida in cluster_of and cluster_of.get(ida) == cluster_of.get(idb)
        key = cbin(c) + ("|syndic-same" if same else "|syndic-apart")
        strata[key].append({"a": ida, "b": idb, "stratum": key, "containment": round(c, 3), "jaccard": round(j, 3)})
    rng = random.Random(16)
    chosen = []
    for key in sorted(strata):
        pool = strata[key]
        take = 40 if key.startswith(("c0.50", "c0.60", "c0.70", "c0.80")) else 24
        chosen.extend(rng.sample(pool, min(take, len(pool))))
    rng.shuffle(chosen)
    with open(f"{out}/pairs.jsonl", "w", encoding="utf-8") as f:
        for p in chosen:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    sizes = {k: len(v) for k, v in sorted(strata.items())}
    print("pair strata (pool sizes):", json.dumps(sizes, indent=1), file=sys.stderr)

    # Recurring lines.
    flagged = set()
    ann = report_path.replace(".json", ".ann.jsonl")
    try:
        with open(ann, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                for i in r["boilerplate_lines"]:
                    flagged.add((r["id"], i))
    except FileNotFoundError:
        print(f"no {ann}: line strata without syndic's flags", file=sys.stderr)
    where = defaultdict(list)
    for i, (doc_id, source, text) in enumerate(docs):
        for li, line in enumerate(text.split("\n")):
            n = norm(line)
            if len(n) >= 3:
                where[n].append((doc_id, li, source))
    lstrata = defaultdict(list)
    for n, occ in where.items():
        if len(occ) < 2 or len({o[0] for o in occ}) < 2:
            continue
        docs_n = len({o[0] for o in occ})
        nsrc = len({o[2] for o in occ})
        doc_id, li, _ = rng.choice(occ)
        dbin = "d2-3" if docs_n <= 3 else "d4-9" if docs_n <= 9 else "d10-49" if docs_n <= 49 else "d50+"
        key = f"{dbin}|{'one-source' if nsrc == 1 else 'sources'}|{'flagged' if (doc_id, li) in flagged else 'kept'}"
        lstrata[key].append({"id": doc_id, "line": li, "docs": docs_n, "sources": nsrc, "stratum": key})
    lines = []
    for key in sorted(lstrata):
        pool = lstrata[key]
        lines.extend(rng.sample(pool, min(20, len(pool))))
    rng.shuffle(lines)
    with open(f"{out}/lines.jsonl", "w", encoding="utf-8") as f:
        for x in lines:
            f.write(json.dumps(x, ensure_ascii=False) + "\n")
    print("line strata (pool sizes):", json.dumps({k: len(v) for k, v in sorted(lstrata.items())}, indent=1), file=sys.stderr)
    print(f"{len(chosen)} pairs, {len(lines)} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
