#!/usr/bin/env python3
"""Fills a fresh MemberOps server for the checkout benchmark: one member holding 50
coupons (10 templates x 5: amount off, percent off, gifts, shipping, trial, scoped,
channel-limited, stackable groups) and writes the 20-line cart request to validate.json."""
import json
import sys
import urllib.request

base, key = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def tpl(name, benefit, **extra):
    spec = {"name": name, "benefit": benefit, "validity": {"kind": "days_from_issue", "days": 30}}
    spec.update(extra)
    return call("POST", "/v1/coupons/templates", spec)["id"]


stack = lambda *g: {"mode": "stackable", "groups": list(g)}
templates = [
    tpl("满200减30", {"type": "amount_off", "off_minor": 3000, "min_spend_minor": 20000}, scope={"exclude_special_price": True}),
    tpl("满500减80", {"type": "amount_off", "off_minor": 8000, "min_spend_minor": 50000}, stacking=stack("store")),
    tpl("9折封顶100", {"type": "percent_off", "percent_off": 10, "cap_minor": 10000}, stacking=stack("store", "platform")),
    tpl("鞋类85折", {"type": "percent_off", "percent_off": 15}, scope={"categories": ["shoes"]}, stacking=stack("platform")),
    tpl("满300赠", {"type": "free_gift", "gift_sku": "GIFT-1", "min_spend_minor": 30000}, stacking=stack("store")),
    tpl("满400返积分", {"type": "spend_return", "min_spend_minor": 40000, "reward": {"kind": "points", "points": 400}}, stacking=stack("store", "platform")),
    tpl("包邮", {"type": "free_shipping"}, stacking=stack("platform")),
    tpl("体验券", {"type": "trial", "sku": "SKU-7"}, stacking=stack("platform")),
    tpl("APP专享", {"type": "amount_off", "off_minor": 2000}, channels=["app"]),
    tpl("品牌券", {"type": "amount_off", "off_minor": 1500, "min_spend_minor": 10000}, scope={"brands": ["acme"], "exclude_skus": ["SKU-3"]}, stacking=stack("store")),
]
call("POST", "/v1/members", {"external_id": "bench-member"})
for t in templates:
    call("POST", "/v1/coupons/issue", {"template_id": t, "members": ["bench-member"], "quantity": 5})
cats = ["shoes", "bags", "tea", "books"]
lines = [{"sku": f"SKU-{i}", "category": cats[i % 4], "brand": "acme" if i % 3 else "other",
          "unit_price_minor": 1990 + i * 1337, "quantity": 1 + i % 3, "special_price": i % 7 == 0} for i in range(20)]
body = {"member": "bench-member", "channel": "store", "cart": {"lines": lines, "shipping_minor": 1200}}
with open(sys.argv[3], "w") as f:
    json.dump(body, f)
check = call("POST", "/v1/checkout/validate", body)
applicable = sum(1 for c in check["coupons"] if c["applicable"])
print(f"member holds {len(check['coupons'])} coupons, {applicable} applicable; best saves {check['best']['discount_minor']} "
      f"with {len(check['best']['coupon_ids'])} coupons", file=sys.stderr)
