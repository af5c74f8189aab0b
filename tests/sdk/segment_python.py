#!/usr/bin/env python3
"""Drives Segment's own Python SDK (segment-analytics-python, from PyPI) against a running
MemberOps server and checks that its events landed.

    pip install segment-analytics-python
    python3 tests/sdk/segment_python.py http://127.0.0.1:8080 <write key> <admin key>

The SDK is configured exactly as for Segment, with one setting changed: host. It posts
gzip batches to <host>/v1/batch with the write key as HTTP Basic user name.
Exit status 0 when every check passed.
"""
import json
import sys
import urllib.request
import uuid

from segment.analytics import Client


def main() -> int:
    base, write_key, admin_key = sys.argv[1], sys.argv[2], sys.argv[3]
    errors = []
    client = Client(
        write_key,
        host=base.rstrip("/") + "/ingest/segment",
        gzip=True,
        sync_mode=True,  # send on each call, so failures surface here
        on_error=lambda e, batch: errors.append(repr(e)),
    )
    run = uuid.uuid4().hex[:12]
    user, anon = f"py-{run}", f"anon-{run}"
    client.page(anonymous_id=anon, name="Home", properties={"url": "https://shop.example/"})
    client.track(anonymous_id=anon, event="Product Viewed", properties={"product_id": "p1", "price": 59.9})
    client.track(anonymous_id=anon, event="Product Added", properties={"product_id": "p1", "quantity": 1})
    client.identify(user_id=user, anonymous_id=anon,
                    traits={"email": f"{user}@example.com", "firstName": "Py", "lastName": "Sdk", "tier_hint": "vip"})
    client.track(user_id=user, event="Order Completed",
                 properties={"order_id": f"o-{run}", "total": 119.8, "currency": "CNY",
                             "products": [{"product_id": "p1", "price": 59.9, "quantity": 2}]})
    client.flush()

    if errors:
        print("SDK reported errors:", errors)
        return 1

    def get(path):
        req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {admin_key}"})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    member = get(f"/v1/members/{user}")
    events = get(f"/v1/members/{user}/events?limit=100")["data"]
    # Events MemberOps records itself (lifecycle.changed, tier.changed) are not the SDK's.
    kinds = sorted(e["type"] for e in events if e["type"] not in ("lifecycle.changed", "tier.changed"))
    checks = {
        "email": member["email"] == f"{user}@example.com",
        "name": member["name"] == "Py Sdk",
        "order_count": member["stats"]["order_count"] == 1,
        "spend": member["stats"]["total_spend_minor"] == 11980,
        "events": kinds == ["identify", "order.paid", "page.viewed", "product.added", "product.viewed"],
    }
    for name, ok in checks.items():
        print(("ok   " if ok else "FAIL ") + name)
    if not all(checks.values()):
        print(json.dumps({"member": member, "events": kinds}, indent=1))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
