#!/usr/bin/env python3
"""Alternating A/B of two running `syndic serve` services: 1,000-document POST /check bodies
sent to one then the other (the order swapped every round), so that a slow spell of the machine
falls on both.

    serve_ab.py URL_A URL_B DOCS.jsonl [ROUNDS]

Bodies are the documents of DOCS.jsonl 1,000 at a time (at most 5 bodies), encoded before the
clock starts. Both answers of a round must be identical. Prints each side's documents/s (from
its median time) and the median of B's time over A's, with its quartiles.
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port)


def post(conn, body):
    t = time.perf_counter()
    conn.request("POST", "/check", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    dt = time.perf_counter() - t
    if resp.status != 200:
        raise SystemExit(f"status {resp.status}: {data[:200]!r}")
    return dt, data


def main():
    urls, path = sys.argv[1:3], sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 60
    docs = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            docs.append({"id": r["id"], "text": r["text"], "source": r.get("source")})
            if len(docs) == 5000:
                break
    bodies = [json.dumps({"documents": docs[i:i + 1000]}, ensure_ascii=False).encode()
              for i in range(0, len(docs) - 999, 1000)]
    if not bodies:
        raise SystemExit(f"{path}: fewer than 1,000 documents")
    conns = [connect(u) for u in urls]
    for c in conns:  # untimed: the first large bodies grow the services' buffers
        for body in bodies[:2]:
            post(c, body)
    times = ([], [])
    ratios = []
    for i in range(rounds):
        body = bodies[i % len(bodies)]
        got = {}
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            got[side] = post(conns[side], body)
        if got[0][1] != got[1][1]:
            raise SystemExit(f"round {i}: the two services answered differently")
        times[0].append(got[0][0])
        times[1].append(got[1][0])
        ratios.append(got[1][0] / got[0][0])
    q = statistics.quantiles(ratios, n=4)
    print(json.dumps({"rounds": rounds,
                      "a_docs_per_s": round(1000 / statistics.median(times[0])),
                      "b_docs_per_s": round(1000 / statistics.median(times[1])),
                      "b_over_a_time": round(statistics.median(ratios), 3),
                      "quartiles": [round(q[0], 3), round(q[2], 3)]}))


if __name__ == "__main__":
    main()
