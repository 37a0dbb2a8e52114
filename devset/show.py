#!/usr/bin/env python3
"""Print development-set items for a person to read and label.

    python3 devset/show.py CORPUS.jsonl.gz pairs PAIRS.jsonl 0-9
    python3 devset/show.py CORPUS.jsonl.gz lines LINES.jsonl 0-9

Pairs: both texts with the passages they share (word 4-grams, after light normalization) in
⟦ ⟧; long unshared stretches are shortened. Lines: the line, how many documents and sources hold
it, and three of those documents around it. Standard library only.
"""
import gzip
import json
import sys

from sample import norm

BOLD_OPEN, BOLD_CLOSE = "⟦", "⟧"


def load(corpus):
    out = {}
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out[r["id"]] = r
    return out


def marked(words, other_grams, n=4):
    on = [False] * len(words)
    keys = [norm(w) for w in words]
    for i in range(len(words) - n + 1):
        if " ".join(keys[i : i + n]) in other_grams:
            for j in range(i, i + n):
                on[j] = True
    out, run, state = [], [], None
    for w, f in zip(words, on):
        if f != state and run:
            out.append((state, " ".join(run)))
            run = []
        state = f
        run.append(w)
    if run:
        out.append((state, " ".join(run)))
    text = []
    for f, s in out:
        if f:
            text.append(BOLD_OPEN + s + BOLD_CLOSE)
        elif len(s) > 700:
            text.append(s[:250] + f" […{len(s) - 500} chars unshared…] " + s[-250:])
        else:
            text.append(s)
    return " ".join(text)


def grams(words, n=4):
    k = [norm(w) for w in words]
    return {" ".join(k[i : i + n]) for i in range(len(k) - n + 1)}


def lines_of(text):
    return text.replace("\n", " ¶ ").split()


def show_pair(docs, i, p):
    a, b = docs[p["a"]], docs[p["b"]]
    wa, wb = lines_of(a["text"]), lines_of(b["text"])
    print(f"=== pair {i}: {p['a']} ~ {p['b']}  (containment {p['containment']}, jaccard {p['jaccard']})")
    for tag, d, w, o in (("A", a, wa, wb), ("B", b, wb, wa)):
        print(f"--- {tag} {d['id']} | {d['source']} | {d.get('date')} | {len(d['text'])} chars")
        print(f"title: {d.get('title')}")
        print(marked(w, grams(o)))
    print()


_INDEX = {}


def line_index(docs):
    if not _INDEX:
        for r in docs.values():
            for t in {norm(t) for t in r["text"].split("\n")}:
                _INDEX.setdefault(t, []).append(r["id"])
    return _INDEX


def show_line(docs, i, x):
    d = docs[x["id"]]
    text = d["text"].split("\n")
    line = text[x["line"]]
    key = norm(line)
    holders = [docs[h] for h in line_index(docs).get(key, [])]
    print(f"=== line {i}: {x['id']} line {x['line']}  ({x['docs']} documents, {x['sources']} sources)")
    print(f"LINE: {line.strip()}")
    srcs = sorted({r["source"] for r in holders})
    print(f"sources: {', '.join(srcs)}")
    for r in holders[:3]:
        t = r["text"].split("\n")
        j = next(k for k, s in enumerate(t) if norm(s) == key)
        before = " ".join(s.strip() for s in t[max(0, j - 2) : j] if s.strip())[-300:]
        after = " ".join(s.strip() for s in t[j + 1 : j + 3] if s.strip())[:300]
        print(f"  in {r['id']} ({r['source']}, title: {r.get('title')}; line {j} of {len(t)}):")
        print(f"    before: {before}")
        print(f"    after:  {after}")
    print()


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    corpus, kind, items, span = sys.argv[1:]
    lo, _, hi = span.partition("-")
    lo, hi = int(lo), int(hi or lo)
    with open(items, encoding="utf-8") as f:
        rows = [json.loads(l) for l in f]
    docs = load(corpus)
    for i in range(lo, min(hi, len(rows) - 1) + 1):
        (show_pair if kind == "pairs" else show_line)(docs, i, rows[i])


if __name__ == "__main__":
    main()
