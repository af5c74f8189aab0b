#!/usr/bin/env python3
"""Sends the same workload through the Segment-compatible batch endpoint and through the
native batch endpoint, and prints messages per second for each.

    python3 load.py segment|native BASE_URL KEY [--messages N] [--members M] [--threads T]

Workload: batches of 100 messages, 30 identify (email, name) and 70 track (50 Product
Viewed, 20 Order Completed), spread over M members. The native batch carries the
equivalent events: member.registered with the same profile fields, product.viewed and
order.paid with auto_create. Bodies are built before the clock starts.
"""
import argparse
import base64
import http.client
import json
import threading
import time
import urllib.parse


def member(i, members):
    return (i * 7919) % members


def segment_batch(b, members):
    msgs = []
    for j in range(100):
        i = b * 100 + j
        k = member(i, members)
        ts = f"2026-05-{1 + i % 28:02d}T{i % 24:02d}:00:00.000Z"
        base = {"messageId": f"s{i}", "userId": f"u{k}", "anonymousId": f"a{k}", "timestamp": ts,
                "context": {"library": {"name": "bench", "version": "1"}}}
        if j % 10 < 3:
            msgs.append({**base, "type": "identify", "traits": {"email": f"u{k}@example.com", "name": f"User {k}"}})
        elif j % 10 < 8:
            msgs.append({**base, "type": "track", "event": "Product Viewed", "properties": {"product_id": f"p{i % 500}", "price": 59.9}})
        else:
            msgs.append({**base, "type": "track", "event": "Order Completed",
                         "properties": {"order_id": f"o{i}", "total": f"{1 + i % 900}.{i % 100:02d}", "currency": "CNY"}})
    return {"batch": msgs, "sentAt": "2026-05-28T00:00:00.000Z"}


def native_batch(b, members):
    evs = []
    for j in range(100):
        i = b * 100 + j
        k = member(i, members)
        ts = f"2026-05-{1 + i % 28:02d}T{i % 24:02d}:00:00.000Z"
        base = {"id": f"n{i}", "member": f"u{k}", "occurred_at": ts, "auto_create": True}
        if j % 10 < 3:
            evs.append({**base, "type": "member.registered", "properties": {"email": f"u{k}@example.com", "name": f"User {k}"}})
        elif j % 10 < 8:
            evs.append({**base, "type": "product.viewed", "properties": {"product_id": f"p{i % 500}", "price": 59.9}})
        else:
            evs.append({**base, "type": "order.paid", "properties": {"order_id": f"o{i}", "amount": f"{1 + i % 900}.{i % 100:02d}"}})
    return {"events": evs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path", choices=["segment", "native"])
    ap.add_argument("base")
    ap.add_argument("key")
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=4)
    a = ap.parse_args()
    batches = a.messages // 100
    if a.path == "segment":
        target = "/ingest/segment/v1/batch"
        auth = "Basic " + base64.b64encode(f"{a.key}:".encode()).decode()
        make = segment_batch
    else:
        target = "/v1/events:batch"
        auth = f"Bearer {a.key}"
        make = native_batch
    bodies = [json.dumps(make(b, a.members)).encode() for b in range(batches)]
    url = urllib.parse.urlparse(a.base)
    failures = []
    lock = threading.Lock()
    next_b = [0]

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        while True:
            with lock:
                b = next_b[0]
                next_b[0] += 1
            if b >= batches:
                return
            conn.request("POST", target, body=bodies[b], headers={"Authorization": auth, "Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                failures.append((r.status, body[:300]))
            elif a.path == "segment" and json.loads(body).get("rejected"):
                failures.append((r.status, body[:300]))
            elif a.path == "native" and json.loads(body).get("rejected"):
                failures.append((r.status, body[:300]))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    if failures:
        print(f"{len(failures)} failed batches, e.g. {failures[0]}")
        raise SystemExit(1)
    print(json.dumps({"path": a.path, "messages": batches * 100, "seconds": round(dt, 2), "per_second": round(batches * 100 / dt)}))


if __name__ == "__main__":
    main()
