"""Prints a schemathesis.toml whose dictionaries hold real ids of a running server's data
(members, coupons, campaigns, segments, webhooks, tasks, stores, staff, tags), bound to
the path parameters of those names with probability 0.5: the other half stays random.
Usage: dictionaries.py BASE_URL ADMIN_KEY"""
import json
import sys
import urllib.request

base, key = sys.argv[1], sys.argv[2]


def get(path):
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except Exception:  # a list that needs parameters: skip it
        return {}


def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except Exception:
        return {}


# What the demo does not hold: a segment, a draft campaign to it, a webhook endpoint.
seg = post("/v1/segments", {"name": "fuzz", "condition": {"field": "orders", "op": "gte", "value": 1}})
if seg.get("id"):
    post("/v1/campaigns", {"name": "fuzz", "kind": "broadcast", "audience": {"segment_id": seg["id"]},
                           "message": {"channel": "inapp", "subject": "s", "body": "b"}, "schedule": None})
post("/v1/webhooks/endpoints", {"url": "https://example.com/hook", "event_types": ["order.paid"]})

ids, codes, tags = set(), set(), set()
for path in ["/v1/members", "/v1/coupons/templates", "/v1/coupons/gift-packs", "/v1/coupons/rules",
             "/v1/campaigns", "/v1/segments", "/v1/webhooks/endpoints", "/v1/tasks"]:
    for row in get(path + "?limit=5").get("data", []):
        for k in ("id", "external_id"):
            if isinstance(row.get(k), str):
                ids.add(row[k])
for path in ["/v1/stores", "/v1/staff"]:
    for row in get(path + "?limit=5").get("data", []):
        if isinstance(row.get("code"), str):
            codes.add(row["code"])
for path in ["/v1/tags", "/v1/tag-rules"]:
    for row in get(path + "?limit=5").get("data", []):
        if isinstance(row.get("tag"), str):
            tags.add(row["tag"])

out = []
for name, values in (("ids", ids), ("codes", codes), ("tags", tags)):
    if values:
        out.append(f"[dictionaries.{name}]\nvalues = {json.dumps(sorted(values), ensure_ascii=False)}\n")
out.append("[parameters]")
for param, name in (("id", "ids"), ("code", "codes"), ("tag", "tags")):
    if any(n == name for n, v in (("ids", ids), ("codes", codes), ("tags", tags)) if v):
        out.append(f'"path.{param}" = {{ dictionary = "{name}", probability = 0.5 }}')
print("\n".join(out))
