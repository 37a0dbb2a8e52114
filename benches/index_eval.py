#!/usr/bin/env python3
"""Scores `syndic index check` answers against gen_news truth: pairwise precision, recall and F1
over the pairs (checked document, indexed document), where the truth pairs are the indexed
documents of the same story as the checked one and the predicted pairs are its matches.

    index_eval.py ANSWERS.jsonl TRUTH.jsonl INDEXED.jsonl [INDEXED.jsonl ...]
"""
import json
import sys
from collections import defaultdict


def main():
    answers, truth, indexed = sys.argv[1], sys.argv[2], sys.argv[3:]
    story = {}
    with open(truth) as f:
        for line in f:
            r = json.loads(line)
            story[r["id"]] = r["story"]
    held = defaultdict(set)
    for path in indexed:
        with open(path) as f:
            for line in f:
                i = json.loads(line)["id"]
                held[story[i]].add(i)
    tp = pred = true = 0
    with open(answers) as f:
        for line in f:
            a = json.loads(line)
            same = held[story[a["id"]]] - {a["id"]}
            got = {m["id"] for m in a["matches"]}
            tp += len(got & same)
            pred += len(got)
            true += len(same)
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(json.dumps({"pred_pairs": pred, "true_pairs": true, "tp_pairs": tp,
                      "precision": p, "recall": r, "f1": f1}))


if __name__ == "__main__":
    main()
