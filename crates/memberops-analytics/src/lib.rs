//! Analytics for MemberOps: the figures an operator steers by (overview, cohorts, funnels,
//! channel retention, repurchase, sales decomposition, loyalty economics) and predicted
//! member value (BG/NBD and Gamma-Gamma).
//!
//! Pure domain code: plain rows in (orders, events, members, daily aggregates), report
//! tables and fitted models out. The store feeds it; nothing here touches a database.

pub mod clv;
pub mod reports;
