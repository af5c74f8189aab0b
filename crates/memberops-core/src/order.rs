//! What counts as an order: the one definition every aggregate, report and segment uses.

/// A paid order counts as an order (and its local day as an order day) unless it is fully
/// refunded; an order of zero (fully discounted) counts. Its paid and refunded amounts
/// count either way, so a fully refunded order nets to zero spend.
pub fn counts_as_order(amount_minor: i64, refunded_minor: i64) -> bool {
    !is_fully_refunded(amount_minor, refunded_minor) || amount_minor == 0
}

/// Nothing is left to refund.
pub fn is_fully_refunded(amount_minor: i64, refunded_minor: i64) -> bool {
    refunded_minor >= amount_minor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fully_refunded_order_is_not_an_order_but_a_free_one_is() {
        assert!(counts_as_order(1000, 0));
        assert!(counts_as_order(1000, 999), "partly refunded");
        assert!(!counts_as_order(1000, 1000));
        assert!(
            !counts_as_order(1000, 1200),
            "over-refunded (never stored, still not an order)"
        );
        assert!(counts_as_order(0, 0), "a fully discounted order");
        assert!(is_fully_refunded(0, 0) && is_fully_refunded(5, 5) && !is_fully_refunded(5, 4));
    }
}
