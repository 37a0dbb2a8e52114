#!/usr/bin/env python3
"""Check latency of `syndic serve`: single-document POST /check requests one after another on
one kept-alive connection (p50, p99 in ms), then batches of 1,000 documents (documents/s).

    index_latency.py URL DOCS.jsonl [SINGLE] [BATCHES]

The times include this client's JSON encoding and HTTP round trip on loopback.
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def main():
    url, path = sys.argv[1], sys.argv[2]
    single = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    batches = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    u = urllib.parse.urlparse(url)
    docs = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            docs.append({"id": r["id"], "text": r["text"], "source": r.get("source")})
    conn = http.client.HTTPConnection(u.hostname, u.port)

    def post(body):
        conn.request("POST", "/check", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"status {resp.status}: {data[:200]!r}")
        return data

    times = []
    for i in range(single):
        body = json.dumps({"documents": [docs[i % len(docs)]]})
        t = time.perf_counter()
        post(body)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    rates = []
    for b in range(batches):
        chunk = [docs[(b * 1000 + i) % len(docs)] for i in range(1000)]
        body = json.dumps({"documents": chunk})
        t = time.perf_counter()
        post(body)
        rates.append(1000 / (time.perf_counter() - t))
    print(json.dumps({"single_p50_ms": round(p50, 3), "single_p99_ms": round(p99, 3),
                      "batch1000_docs_per_s": round(statistics.median(rates))}))


if __name__ == "__main__":
    main()
