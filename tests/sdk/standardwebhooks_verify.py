"""Verifies MemberOps webhook deliveries with the `standardwebhooks` package (PyPI).

Reads a JSON list of {"secret", "headers", "body"} on stdin, as a receiver recorded them;
verifies each with the package's own Webhook.verify, checks the payload shape, and prints
how many passed. Exits non-zero on the first that does not verify.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook

deliveries = json.load(sys.stdin)
for d in deliveries:
    payload = Webhook(d["secret"]).verify(d["body"], d["headers"])
    assert set(payload) == {"type", "timestamp", "data"}, payload
    assert payload["data"]["type"] == payload["type"], payload
    assert payload["data"]["member_id"].startswith("mbr_"), payload
# A tampered body must not verify.
first = deliveries[0]
try:
    Webhook(first["secret"]).verify(first["body"] + " ", first["headers"])
except Exception:
    pass
else:
    sys.exit("a tampered body verified")
print(f"verified {len(deliveries)}")
