//! What an order bought, for segment conditions on SKU and category: the one reading of an
//! `order.paid` event's properties (the storage migration that indexes older orders follows
//! the same rule in SQL).

use serde_json::{Map, Value};

use crate::tree::ProductKey;

/// The distinct `(key, value)` pairs an order's properties name: `sku` and `category` of
/// each object in its `lines` array (MemberOps) or `products` array (Segment's e-commerce
/// spec), and of the properties themselves (a one-product order); and the `categories`
/// the loyalty rules read (a string or an array of strings). Empty strings and non-string
/// values are ignored.
pub fn order_products(props: &Map<String, Value>) -> Vec<(ProductKey, String)> {
    let mut out = Vec::new();
    let take = |out: &mut Vec<(ProductKey, String)>, line: &Map<String, Value>| {
        for key in [ProductKey::Sku, ProductKey::Category] {
            if let Some(Value::String(s)) = line.get(key.name())
                && !s.is_empty()
            {
                out.push((key, s.clone()));
            }
        }
    };
    take(&mut out, props);
    // The store the order was placed at (门店), a fact of the order itself.
    if let Some(Value::String(s)) = props.get("store_code")
        && !s.is_empty()
    {
        out.push((ProductKey::Store, s.clone()));
    }
    let cats: &[Value] = match props.get("categories") {
        Some(Value::Array(a)) => a,
        Some(v @ Value::String(_)) => std::slice::from_ref(v),
        _ => &[],
    };
    for c in cats {
        if let Value::String(s) = c
            && !s.is_empty()
        {
            out.push((ProductKey::Category, s.clone()));
        }
    }
    for list in ["lines", "products"] {
        if let Some(Value::Array(items)) = props.get(list) {
            for item in items {
                if let Value::Object(line) = item {
                    take(&mut out, line);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_lines_products_and_the_order_itself() {
        let props = json!({
            "order_id": "o1", "category": "母婴用品", "items": 3, "categories": ["bags", 1],
            "lines": [{"sku": "A", "category": "toys"}, "junk", {"sku": ""}],
            "products": [{"sku": "A", "product_id": "p"}, {"category": 7}],
        });
        let got = order_products(props.as_object().expect("object"));
        assert_eq!(
            got,
            vec![
                (ProductKey::Sku, "A".to_owned()),
                (ProductKey::Category, "bags".to_owned()),
                (ProductKey::Category, "toys".to_owned()),
                (ProductKey::Category, "母婴用品".to_owned()),
            ]
        );
        let none = json!({"products": {"sku": "not an array"}});
        assert!(order_products(none.as_object().expect("object")).is_empty());
        let one = json!({"categories": "shoes"});
        assert_eq!(
            order_products(one.as_object().expect("object")),
            vec![(ProductKey::Category, "shoes".to_owned())]
        );
    }
}
