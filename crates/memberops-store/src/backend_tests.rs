//! The SQL order rule of `backend.rs` against the domain's.

use memberops_core::order::counts_as_order;

/// The SQL form of "what counts as an order" answers as the domain's rule does.
#[tokio::test]
async fn the_sql_order_rule_is_the_domain_rule() {
    let pool = sqlx::SqlitePool::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    for (amount, refunded) in [
        (1000, 0),
        (1000, 999),
        (1000, 1000),
        (1000, 1001),
        (0, 0),
        (1, 1),
    ] {
        let sql = format!(
            "SELECT CASE WHEN {} THEN 1 ELSE 0 END \
             FROM (SELECT {amount} AS amount_minor, {refunded} AS refunded_minor)",
            counts_as_order_sql!()
        );
        let got: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .expect("query");
        assert_eq!(
            got == 1,
            counts_as_order(amount, refunded),
            "{amount} {refunded}"
        );
    }
}
