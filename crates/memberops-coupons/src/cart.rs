//! The cart a checkout asks about. Prices are integer minor units; a negative price or a
//! quantity below one is refused (422), never clamped.

use memberops_core::error::Collector;
use memberops_core::{FieldError, Invalid};
use serde::{Deserialize, Serialize};

use crate::template::MAX_MINOR;

pub const MAX_LINES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CartLine {
    #[schema(example = "SKU-1001")]
    pub sku: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[schema(example = 9900)]
    pub unit_price_minor: i64,
    #[schema(example = 2)]
    pub quantity: i64,
    /// A special-price (特价) item: coupons that exclude special prices skip it.
    #[serde(default)]
    pub special_price: bool,
}

impl CartLine {
    /// The line total; validated carts cannot overflow.
    pub fn amount(&self) -> i64 {
        self.unit_price_minor.saturating_mul(self.quantity)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    /// The shipping fee a free-shipping coupon can waive.
    #[serde(default)]
    pub shipping_minor: i64,
}

impl Cart {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut c = Collector::default();
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            c.push(FieldError::new(
                &["cart", "lines"],
                "invalid_cart",
                format!("a cart has 1–{MAX_LINES} lines"),
            ));
        }
        let mut total: i64 = 0;
        for (i, l) in self.lines.iter().enumerate() {
            let idx = i.to_string();
            let err = |f: &str, code: &str, msg: &str| {
                FieldError::new(&["cart", "lines", &idx, f], code, msg)
            };
            if l.sku.trim().is_empty() {
                c.push(err("sku", "required", "sku is required"));
            }
            if l.unit_price_minor < 0 {
                c.push(err(
                    "unit_price_minor",
                    "negative_price",
                    "unit price cannot be negative",
                ));
            } else if l.unit_price_minor > MAX_MINOR {
                c.push(err(
                    "unit_price_minor",
                    "out_of_range",
                    "unit price is too large",
                ));
            }
            if l.quantity < 1 {
                c.push(err(
                    "quantity",
                    "invalid_quantity",
                    "quantity must be at least 1",
                ));
            } else if l.quantity > 1_000_000 {
                c.push(err("quantity", "out_of_range", "quantity is too large"));
            }
            if l.unit_price_minor >= 0 && l.quantity >= 1 {
                total = total.saturating_add(l.amount());
            }
        }
        if total > MAX_MINOR {
            c.push(FieldError::new(
                &["cart", "lines"],
                "out_of_range",
                "cart total is too large",
            ));
        }
        if self.shipping_minor < 0 {
            c.push(FieldError::new(
                &["cart", "shipping_minor"],
                "negative_price",
                "shipping cannot be negative",
            ));
        } else if self.shipping_minor > MAX_MINOR {
            c.push(FieldError::new(
                &["cart", "shipping_minor"],
                "out_of_range",
                "shipping is too large",
            ));
        }
        c.finish()
    }

    pub fn subtotal(&self) -> i64 {
        self.lines.iter().map(CartLine::amount).sum()
    }
}
