#!/usr/bin/env python3
"""Check latency and load of `syndic serve`.

    index_latency.py URL DOCS.jsonl [SINGLE] [BATCHES] [CLIENTS] [LOAD]

- SINGLE (default 1000) single-document POST /check requests one after another on one
  kept-alive connection: p50 and p99 in ms;
- BATCHES (default 3) requests of 1,000 documents each, after one untimed (the service's first
  large body grows its buffers and pools): documents/s (median);
- then, when LOAD > 0, a load test: CLIENTS threads (default 8), each with its own kept-alive
  connection, send LOAD single-document checks in all (default 0: none); every answer must be
  200 with one result naming the document sent: requests/s, p50/p99 and the count of errors.

Request bodies are encoded (UTF-8 JSON) before the clock starts, so the times are the
service's and the loopback round trip's, not this client's JSON encoding; answers are read
whole, and parsed only after the clock stops (the load test parses each to check it).
"""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


def encode(docs):
    return json.dumps({"documents": docs}, ensure_ascii=False).encode()


def connect(u):
    return http.client.HTTPConnection(u.hostname, u.port)


def post(conn, body):
    conn.request("POST", "/check", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def pct(times, q):
    times = sorted(times)
    return times[min(len(times) - 1, int(len(times) * q))]


def main():
    url, path = sys.argv[1], sys.argv[2]
    single = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    batches = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    load = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    u = urllib.parse.urlparse(url)
    docs = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            docs.append({"id": r["id"], "text": r["text"], "source": r.get("source")})
    out = {}
    conn = connect(u)

    if single:
        bodies = [encode([docs[i % len(docs)]]) for i in range(single)]
        times = []
        for body in bodies:
            t = time.perf_counter()
            status, data = post(conn, body)
            times.append((time.perf_counter() - t) * 1000)
            if status != 200:
                raise SystemExit(f"status {status}: {data[:200]!r}")
        out["single_p50_ms"] = round(statistics.median(times), 3)
        out["single_p99_ms"] = round(pct(times, 0.99), 3)

    if batches:
        rates = []
        post(conn, encode(docs[:1000]))
        for b in range(batches):
            chunk = [docs[(b * 1000 + i) % len(docs)] for i in range(1000)]
            body = encode(chunk)
            t = time.perf_counter()
            status, data = post(conn, body)
            dt = time.perf_counter() - t
            if status != 200 or len(json.loads(data)["results"]) != 1000:
                raise SystemExit(f"status {status}: {data[:200]!r}")
            rates.append(1000 / dt)
        out["batch1000_docs_per_s"] = round(statistics.median(rates))
        out["batch1000_body_bytes"] = len(body)

    if load:
        per = [load // clients + (1 if c < load % clients else 0) for c in range(clients)]
        lat = [[] for _ in range(clients)]
        errors = [[] for _ in range(clients)]
        start = threading.Barrier(clients + 1)

        def run(c):
            mine = [docs[(c * 7919 + i) % len(docs)] for i in range(per[c])]
            bodies = [encode([d]) for d in mine]
            conn = connect(u)
            start.wait()
            for d, body in zip(mine, bodies):
                t = time.perf_counter()
                try:
                    status, data = post(conn, body)
                    ok = status == 200 and [r["id"] for r in json.loads(data)["results"]] == [d["id"]]
                    if not ok:
                        errors[c].append(f"status {status}: {data[:100]!r}")
                except Exception as e:  # counted, and the connection made again
                    errors[c].append(repr(e))
                    conn = connect(u)
                lat[c].append((time.perf_counter() - t) * 1000)

        threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        dt = time.perf_counter() - t0
        all_lat = [x for l in lat for x in l]
        errs = [e for l in errors for e in l]
        out["load"] = {"clients": clients, "requests": len(all_lat), "errors": len(errs),
                       "requests_per_s": round(len(all_lat) / dt),
                       "p50_ms": round(statistics.median(all_lat), 3),
                       "p99_ms": round(pct(all_lat, 0.99), 3)}
        if errs:
            out["load"]["first_errors"] = errs[:3]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
