//! What of an event's properties survives an erasure: numbers and flags (amounts and
//! quantities keep aggregates and ledgers explainable) and the text of keys that identify
//! orders, products and places of sale; every other text (names, addresses, comments,
//! free-text fields) is removed.

use serde_json::{Map, Value};

/// Text properties kept: identifiers of orders, products, coupons, stores; amounts.
const KEEP_TEXT: &[&str] = &[
    "order_id",
    "refund_id",
    "amount",
    "currency",
    "discount",
    "shipping",
    "tax",
    "total",
    "revenue",
    "price",
    "sku",
    "product_id",
    "category",
    "brand",
    "coupon",
    "coupon_code",
    "coupon_id",
    "store_code",
    "staff_code",
    "channel",
    "payment_method",
    "status",
    "tier",
];

fn scrub_map(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter_map(|(k, v)| {
            let kept = match v {
                Value::String(_) if KEEP_TEXT.contains(&k.as_str()) => Some(v.clone()),
                Value::String(_) => None,
                Value::Object(m) => Some(Value::Object(scrub_map(m))),
                Value::Array(items) => Some(Value::Array(
                    items
                        .iter()
                        .filter_map(|i| match i {
                            Value::Object(m) => Some(Value::Object(scrub_map(m))),
                            Value::String(_) => None,
                            other => Some(other.clone()),
                        })
                        .collect(),
                )),
                other => Some(other.clone()),
            };
            kept.map(|v| (k.clone(), v))
        })
        .collect()
}

/// The properties (JSON text) without free text; None when nothing changes.
pub fn properties(json: &str) -> Option<String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) else {
        // Not an object: nothing of it is kept.
        return (json != "{}").then(|| "{}".to_owned());
    };
    let out = scrub_map(&map);
    (out != map).then(|| Value::Object(out).to_string())
}

/// Deletes the refused Tracking API messages that name the member: a payload holding one
/// of `needles` (external id, anonymous ids, phone, email) as a whole string value.
pub(super) async fn tracking_issues<T: memberops_store::PrivacyTx + ?Sized>(
    tx: &mut T,
    needles: &[String],
) -> crate::error::Result<u64> {
    let mut deleted = std::collections::HashSet::new();
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        for (id, payload) in tx.tracking_issues_containing(needle).await? {
            if deleted.contains(&id) {
                continue;
            }
            let names = serde_json::from_str::<Value>(&payload)
                .map(|v| holds_string(&v, needle))
                .unwrap_or(true);
            if names {
                tx.delete_tracking_issue(&id).await?;
                deleted.insert(id);
            }
        }
    }
    Ok(deleted.len() as u64)
}

fn holds_string(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s == needle,
        Value::Array(xs) => xs.iter().any(|x| holds_string(x, needle)),
        Value::Object(o) => o.values().any(|x| holds_string(x, needle)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_goes_and_amounts_and_ids_stay() {
        let before = r#"{"order_id":"o-1","amount":"120.00","address":"上海市长宁路1号","note":"call 13812345678","items":[{"sku":"A1","quantity":2,"gift_message":"to Li"}],"first":true}"#;
        let after: Value =
            serde_json::from_str(&properties(before).expect("changed")).expect("json");
        assert_eq!(
            after,
            serde_json::json!({"order_id": "o-1", "amount": "120.00", "items": [{"sku": "A1", "quantity": 2}], "first": true})
        );
        assert_eq!(properties(r#"{"order_id":"o-2"}"#), None);
    }
}
