#!/usr/bin/env python3
"""Draw samples of a syndic report for judging by eye, deterministically for a given seed.

    benches/review.py REPORT ANNOTATIONS CORPUS --seed 1 --what WHAT

REPORT is `syndic scan -o`, ANNOTATIONS is `syndic scan --annotations`, CORPUS is the JSONL
(optionally .gz) that was scanned, with fields id, text, source, date and, when present, title.
The script only reads the corpus and prints samples on stdout; it writes nothing. Corpora under a
research licence (e.g. SaudiNewsNet) must stay out of the repository, and so must this output.

WHAT:
  flagged    30 flagged lines, uniform over flagged (document, line) occurrences, each with its
             document's source, the raw line and the line before and after it.
  unflagged  30 unflagged recurring lines: normalized forms (strip, collapse spaces, drop Arabic
             diacritics and tatweel, case-fold, mask digits) held by >= --min-docs documents and
             never flagged in any of them; uniform over such forms, with document/source counts,
             how many clusters-or-singletons ("stories") hold them and one occurrence in context.
  pairs      50 pairs syndic put together: uniform over non-representative cluster members (the
             same as a cluster weighted by its non-representative members, then a member), each
             paired with its representative; titles, sources, dates, similarity, containment and
             the first --chars characters of each text.
  largest    the 10 largest clusters, every member's title, source, date, similarity and start.
  missed     30 pairs of documents from different sources on the same day that share a rare word
             (>= 4 letters, letters only, in <= --max-df documents of the corpus) but are not in
             one cluster; says whether they share a family; titles and first --chars characters,
             and the pair's exact 7-character shingle Jaccard and containment (computed here, on
             folded text, to help the judge; --overlap-all also scores the whole population).
  cables     every document holding both "خادم الحرمين الشريفين" and "برقية تهنئة" (a royal
             congratulation cable, as the lead when both are in the first --cable-window
             characters, else further in, e.g. a roundup), grouped by cluster, with the clause
             naming the recipient and the cluster's other members.

Samples are drawn from populations sorted by document id, with random.Random(seed), so a seed
gives the same samples for the same report, annotations and corpus.
"""

import argparse
import collections
import gzip
import json
import random
import re
import sys
import unicodedata

DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
DIGITS = re.compile(r"\d")  # Unicode digits: ASCII and Arabic-Indic
SPACES = re.compile(r"\s+")
WORD = re.compile(r"[^\W\d_]+")  # runs of letters (Unicode), no digits or underscores
ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})


def norm_line(line):
    """Normalized form of one line: strip, collapse spaces, drop diacritics/tatweel, fold, mask digits."""
    s = DIACRITICS.sub("", line.strip())
    s = SPACES.sub(" ", s).casefold()
    return DIGITS.sub("0", s)


def words(text):
    """Letter-only words of a text, folded (case, diacritics, alef/ya/ta-marbuta variants)."""
    s = unicodedata.normalize("NFKC", DIACRITICS.sub("", text)).casefold().translate(ALEF)
    return WORD.findall(s)


def shingles(text, k=7):
    """Character k-shingles of a text with punctuation dropped and letters folded as in words()."""
    t = " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", DIACRITICS.sub("", text)).casefold().translate(ALEF)))
    return {t[i: i + k] for i in range(max(1, len(t) - k + 1))}


def overlap(a, b):
    """Exact shingle Jaccard and containment (of the smaller in the larger) of two texts."""
    sa, sb = shingles(a), shingles(b)
    inter = len(sa & sb)
    return inter / max(1, len(sa | sb)), inter / max(1, min(len(sa), len(sb)))


def load_corpus(path):
    opener = gzip.open if path.endswith(".gz") else open
    docs = {}
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            text = rec.get("text") or ""
            if not text.strip():
                continue  # syndic --on-error skip drops these
            docs[str(rec["id"])] = rec
    return docs


def load_annotations(path):
    ann = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                ann[str(rec["id"])] = sorted(rec["boilerplate_lines"])
    return ann


def one_line(s, limit):
    s = SPACES.sub(" ", s).strip()
    return s if len(s) <= limit else s[:limit] + "…"


def fmt_list(xs, limit=12):
    return str(xs) if len(xs) <= limit else f"{xs[:limit]} … ({len(xs)} lines)"


def doc_head(doc, chars):
    return one_line(doc.get("text", ""), chars)


def membership(report):
    """document id -> (cluster id, family id) for every clustered document."""
    where = {}
    for c in report["clusters"]:
        for m in c["members"]:
            where[m["id"]] = (c["id"], c["family"])
    return where


def show_doc(label, doc, chars, extra=""):
    print(f"  {label} {doc['id']}  [{doc.get('source', '?')}]  {doc.get('date', '?')}{extra}")
    print(f"     title: {one_line(doc.get('title') or '', 200)}")
    print(f"     text : {doc_head(doc, chars)}")


def what_flagged(report, ann, docs, rng, args):
    population = [(d, i) for d in sorted(ann) for i in ann[d]]
    print(f"# flagged: {len(population)} flagged line occurrences in {len(ann)} documents; "
          f"sample of {min(args.n or 30, len(population))}")
    for k, (d, i) in enumerate(sorted(rng.sample(population, min(args.n or 30, len(population))))):
        doc = docs.get(d)
        if doc is None:
            print(f"\n[{k + 1}] {d} line {i}: document not in corpus")
            continue
        lines = doc["text"].split("\n")
        print(f"\n[{k + 1}] {d}  [{doc.get('source', '?')}]  line {i} of {len(lines)}"
              f"  (flagged in this doc: {fmt_list(ann[d])})")
        for j in (i - 1, i, i + 1):
            if 0 <= j < len(lines):
                mark = ">>" if j == i else "  "
                print(f"   {mark} {j:3d}: {one_line(lines[j], 300)!r}")


def what_unflagged(report, ann, docs, rng, args):
    holders = collections.defaultdict(set)  # normalized line -> documents holding it
    flagged = set()  # normalized forms flagged at least once
    first = {}  # normalized line -> (doc, index) of its first occurrence in id order
    for d in sorted(docs):
        lines = docs[d]["text"].split("\n")
        marks = set(ann.get(d, ()))
        for i, line in enumerate(lines):
            n = norm_line(line)
            if not n:
                continue
            holders[n].add(d)
            first.setdefault(n, (d, i))
            if i in marks:
                flagged.add(n)
    min_docs = args.min_docs
    recurring = sorted(n for n, ds in holders.items() if len(ds) >= min_docs)
    population = [n for n in recurring if n not in flagged]
    where = membership(report)
    print(f"# unflagged: {len(recurring)} normalized lines in >= {min_docs} documents, "
          f"{len(recurring) - len(population)} of them flagged somewhere, {len(population)} never; "
          f"sample of {min(args.n or 30, len(population))}")
    sample = rng.sample(population, min(args.n or 30, len(population)))
    sample.sort(key=lambda n: (-len(holders[n]), n))
    for k, n in enumerate(sample):
        ds = sorted(holders[n])
        sources = collections.Counter(docs[d].get("source", "?") for d in ds)
        stories = {where.get(d, (f"single:{d}",))[0] for d in ds}
        d, i = first[n]
        lines = docs[d]["text"].split("\n")
        print(f"\n[{k + 1}] {len(ds)} documents, {len(sources)} sources, {len(stories)} stories "
              f"(clusters or singletons); sources: {dict(sources.most_common(5))}")
        print(f"     e.g. {d} line {i} of {len(lines)}; docs: {' '.join(ds[:6])}{' …' if len(ds) > 6 else ''}")
        for j in (i - 1, i, i + 1):
            if 0 <= j < len(lines):
                mark = ">>" if j == i else "  "
                print(f"   {mark} {j:3d}: {one_line(lines[j], 300)!r}")


def what_pairs(report, ann, docs, rng, args):
    population = []
    for c in sorted(report["clusters"], key=lambda c: c["id"]):
        for m in c["members"]:
            if m["id"] != c["representative"]:
                population.append((c["id"], m["id"]))
    clusters = {c["id"]: c for c in report["clusters"]}
    n = min(args.n or 50, len(population))
    print(f"# pairs: {len(population)} non-representative members in {len(clusters)} clusters; sample of {n}")
    for k, (cid, mid) in enumerate(sorted(rng.sample(population, n))):
        c = clusters[cid]
        m = next(x for x in c["members"] if x["id"] == mid)
        rep, mem = docs[c["representative"]], docs[mid]
        print(f"\n[{k + 1}] cluster {cid} (size {c['size']}, family {c['family']}): similarity "
              f"{m['similarity']}, containment {m['containment']}, exact {m['exact']}")
        show_doc("R", rep, args.chars, f"  {len(rep['text'])} chars")
        show_doc("M", mem, args.chars, f"  {len(mem['text'])} chars")


def what_largest(report, ann, docs, rng, args):
    largest = sorted(report["clusters"], key=lambda c: (-c["size"], c["id"]))[: args.n or 10]
    print(f"# largest: the {len(largest)} largest of {len(report['clusters'])} clusters")
    for c in largest:
        rep = docs[c["representative"]]
        print(f"\n## cluster {c['id']} size {c['size']} family {c['family']}, representative {c['representative']}")
        print(f"   rep text: {doc_head(rep, args.chars)}")
        for m in sorted(c["members"], key=lambda m: (m["id"] != c["representative"], -m["similarity"], m["id"])):
            d = docs[m["id"]]
            print(f"   {m['id']} [{d.get('source', '?')}] {d.get('date', '?')} sim {m['similarity']} "
                  f"cont {m['containment']}{' exact' if m['exact'] else ''}")
            print(f"      title: {one_line(d.get('title') or '', 160)}")
            print(f"      start: {doc_head(d, args.member_chars)}")


def what_missed(report, ann, docs, rng, args):
    df = collections.Counter()
    doc_words = {}
    for d in sorted(docs):
        ws = {w for w in words(docs[d]["text"]) if len(w) >= 4}
        doc_words[d] = ws
        df.update(ws)
    rare = collections.defaultdict(list)  # rare word -> documents
    for d in sorted(docs):
        for w in doc_words[d]:
            if 2 <= df[w] <= args.max_df:
                rare[w].append(d)
    where = membership(report)
    shared = collections.defaultdict(set)  # (a, b) -> rare words they share
    for w, ds in rare.items():
        for i, a in enumerate(ds):
            for b in ds[i + 1:]:
                da, db = docs[a], docs[b]
                if da.get("source") == db.get("source"):
                    continue
                if str(da.get("date", ""))[:10] != str(db.get("date", ""))[:10]:
                    continue
                ca, cb = where.get(a), where.get(b)
                if ca is not None and cb is not None and ca[0] == cb[0]:
                    continue
                shared[(a, b)].add(w)
    population = sorted(shared)
    same_family = sum(1 for a, b in population
                      if where.get(a) and where.get(b) and where[a][1] == where[b][1])
    n = min(args.n or 30, len(population))
    print(f"# missed: {len(population)} same-day cross-source pairs sharing a word of >= 4 letters in "
          f"<= {args.max_df} documents, not in one cluster ({same_family} in one family); sample of {n}")
    if args.overlap_all:
        scores = [overlap(docs[a]["text"], docs[b]["text"]) for a, b in population]
        print(f"# of all {len(population)}: exact 7-shingle Jaccard >= 0.5: {sum(1 for j, _ in scores if j >= 0.5)}; "
              f"containment >= 0.7: {sum(1 for _, c in scores if c >= 0.7)}; "
              f"containment >= 0.5: {sum(1 for _, c in scores if c >= 0.5)}")
    for k, (a, b) in enumerate(sorted(rng.sample(population, n))):
        ca, cb = where.get(a), where.get(b)
        if ca and cb and ca[1] == cb[1]:
            rel = f"same family {ca[1]} (clusters {ca[0]}, {cb[0]})"
        else:
            rel = (f"not one family (A: {'cluster %d family %d' % ca if ca else 'singleton'}; "
                   f"B: {'cluster %d family %d' % cb if cb else 'singleton'})")
        j, c = overlap(docs[a]["text"], docs[b]["text"])
        print(f"\n[{k + 1}] shared rare words: {' '.join(sorted(shared[(a, b)]))}; {rel}; "
              f"exact 7-shingle Jaccard {j:.3f}, containment {c:.3f}")
        show_doc("A", docs[a], args.chars, f"  {len(docs[a]['text'])} chars")
        show_doc("B", docs[b], args.chars, f"  {len(docs[b]['text'])} chars")


def what_cables(report, ann, docs, rng, args):
    where = membership(report)
    clusters = {c["id"]: c for c in report["clusters"]}
    king, cable = " ".join(words("خادم الحرمين الشريفين")), " ".join(words("برقية تهنئة"))
    found = []  # (doc, lead): lead when both phrases are in the first --cable-window characters
    for d in sorted(docs):
        text = docs[d]["text"]
        if king in " ".join(words(text)) and cable in " ".join(words(text)):
            head = " ".join(words(text[: args.cable_window]))
            found.append((d, king in head and cable in head))
    groups = collections.defaultdict(list)
    for d, lead in found:
        groups[where[d][0] if d in where else f"single:{d}"].append((d, lead))
    in_clusters = [g for g in groups if not str(g).startswith("single")]
    sizes = collections.Counter(len(groups[g]) for g in in_clusters)
    families = collections.Counter(clusters[g]["family"] for g in in_clusters)
    print(f"# cables: {len(found)} documents holding both phrases ({sum(1 for _, l in found if l)} as the lead, "
          f"{sum(1 for _, l in found if not l)} further in, e.g. a roundup); {len(in_clusters)} clusters "
          f"(cables per cluster: {dict(sorted(sizes.items()))}), {len(groups) - len(in_clusters)} singletons; "
          f"families of those clusters: {dict(families)}")
    for g in sorted(groups, key=lambda g: (-len(groups[g]), str(g))):
        c = clusters.get(g)
        head = (f"cluster {g} size {c['size']} family {c['family']} ({len(groups[g])} cables), "
                f"representative {c['representative']}" if c else f"singleton {groups[g][0][0]}")
        print(f"\n## {head}")
        sims = {m["id"]: m for m in c["members"]} if c else {}
        for d, lead in groups[g]:
            doc = docs[d]
            text = SPACES.sub(" ", doc["text"])
            at = text.find("برقية تهنئة")
            if at < 0:
                at = text.find("برقية")
            clause = text[max(0, at): at + args.chars // 3] if at >= 0 else text[: args.chars // 3]
            s = sims.get(d)
            print(f"   {d} [{doc.get('source', '?')}] {str(doc.get('date', '?'))[:10]}"
                  f"{' sim %s cont %s' % (s['similarity'], s['containment']) if s else ''}"
                  f"{' REP' if c and d == c['representative'] else ''}{'' if lead else ' (not the lead)'}")
            print(f"      {clause}")
        if c:
            others = [m["id"] for m in c["members"] if m["id"] not in {d for d, _ in groups[g]}]
            for d in others:
                print(f"   (not a cable) {d} [{docs[d].get('source', '?')}] {one_line(docs[d].get('title') or '', 100)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("report")
    p.add_argument("annotations")
    p.add_argument("corpus")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--what", required=True,
                   choices=["flagged", "unflagged", "pairs", "largest", "missed", "cables"])
    p.add_argument("-n", type=int, default=None, help="sample size (default per WHAT: 30/30/50/10/30)")
    p.add_argument("--chars", type=int, default=400, help="characters of text shown per document")
    p.add_argument("--member-chars", type=int, default=160, help="characters shown per member in largest")
    p.add_argument("--min-docs", type=int, default=5, help="unflagged: documents a line must recur in")
    p.add_argument("--max-df", type=int, default=5, help="missed: documents a rare word may occur in")
    p.add_argument("--cable-window", type=int, default=400,
                   help="cables: a cable is the lead when both phrases are in this many first characters")
    p.add_argument("--overlap-all", action="store_true",
                   help="missed: also score every pair of the population by exact shingle overlap (slow)")
    args = p.parse_args()
    with open(args.report, encoding="utf-8") as f:
        report = json.load(f)
    ann = load_annotations(args.annotations)
    docs = load_corpus(args.corpus)
    rng = random.Random(args.seed)
    globals()["what_" + args.what](report, ann, docs, rng, args)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.stderr.close()
