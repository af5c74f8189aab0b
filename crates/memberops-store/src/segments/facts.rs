//! The SQL that reads member facts for RFM, the lifecycle job and the segment index, and
//! the packed-row format that streams them (shared by both backends).

use super::MemberFacts;
use crate::error::Result;
use memberops_core::time::Millis;

pub(crate) const FACTS_STREAM: &str = "SELECT m.id, m.external_id, m.time_zone, m.registered_at, \
     CAST((CASE WHEN m.phone IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.email IS NULL THEN 0 ELSE 1 END) \
      + (CASE WHEN m.name IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.gender IS NULL THEN 0 ELSE 1 END) \
      + (CASE WHEN m.birthday IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.region IS NULL THEN 0 ELSE 1 END) AS BIGINT), \
     s.first_order_at, s.last_order_date, CAST(COALESCE(s.order_count, 0) AS BIGINT), \
     CAST(COALESCE(s.order_days, 0) AS BIGINT), \
     CAST(COALESCE(s.paid_minor, 0) - COALESCE(s.refunded_minor, 0) AS BIGINT), s.last_active_at \
     FROM members m LEFT JOIN member_stats s ON s.member_id = m.id WHERE m.workspace_id = $1";

/// One member's orders folded as of a date: the rules of `member_stats` (an order fully
/// refunded is not an order, nor is its day; paid minus refunded counts whatever).
#[derive(Default)]
pub(crate) struct OrderFold {
    first: Option<String>,
    last: Option<String>,
    orders: i64,
    days: i64,
    monetary: i64,
}

impl OrderFold {
    /// Adds one order; orders arrive in ascending `local_date` per member.
    pub(crate) fn add(&mut self, day: String, amount: i64, refunded: i64) {
        self.monetary += amount - refunded;
        if memberops_core::order::counts_as_order(amount, refunded) {
            self.orders += 1;
            if self.last.as_deref() != Some(day.as_str()) {
                self.days += 1;
            }
            if self.first.is_none() {
                self.first = Some(day.clone());
            }
            self.last = Some(day);
        }
    }

    pub(crate) fn store(self, f: &mut MemberFacts) {
        f.first_order_day = self.first;
        f.last_order_day = self.last;
        f.orders = self.orders;
        f.order_days = self.days;
        f.monetary = self.monetary;
    }
}

/// The local day (YYYY-MM-DD) of an instant in a zone.
pub(crate) fn local_day(ms: Millis, tz: chrono_tz::Tz) -> Option<String> {
    use chrono::TimeZone;
    chrono::Utc.timestamp_millis_opt(ms).single().map(|t| {
        use chrono::Datelike;
        let d = t.with_timezone(&tz).date_naive();
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    })
}

/// Raw facts of one member as stored, before the as-of adjustments of `facts_as_of`.
pub(crate) struct FactsRaw {
    pub id: String,
    pub external_id: String,
    pub time_zone: String,
    pub registered_at: Option<Millis>,
    pub filled: i64,
    pub first_order_at: Option<Millis>,
    pub last_order_date: Option<String>,
    pub orders: i64,
    pub order_days: i64,
    pub monetary: i64,
    pub last_active_at: Option<Millis>,
}

/// The columns of [`FactsRaw`], in order (for the packed SQLite scan).
pub(crate) const FACTS_EXPRS: [&str; 11] = [
    "m.id",
    "m.external_id",
    "m.time_zone",
    "m.registered_at",
    "(CASE WHEN m.phone IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.email IS NULL THEN 0 ELSE 1 END) \
      + (CASE WHEN m.name IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.gender IS NULL THEN 0 ELSE 1 END) \
      + (CASE WHEN m.birthday IS NULL THEN 0 ELSE 1 END) + (CASE WHEN m.region IS NULL THEN 0 ELSE 1 END)",
    "s.first_order_at",
    "s.last_order_date",
    "COALESCE(s.order_count, 0)",
    "COALESCE(s.order_days, 0)",
    "COALESCE(s.paid_minor, 0) - COALESCE(s.refunded_minor, 0)",
    "s.last_active_at",
];

/// Folds the stored facts into `out`: exact as of `as_of` when every live order is on or
/// before it (the common case: the daily job runs for today), otherwise listed in `stale`
/// for a fold of its orders; members active after `cutoff` are listed in `late`.
pub(crate) struct FactsSink<'a> {
    pub as_of: &'a str,
    pub cutoff: Millis,
    pub out: Vec<MemberFacts>,
    pub stale: Vec<usize>,
    pub late: Vec<usize>,
    zones: std::collections::HashMap<String, Option<chrono_tz::Tz>>,
}

impl<'a> FactsSink<'a> {
    pub(crate) fn new(as_of: &'a str, cutoff: Millis) -> Self {
        FactsSink {
            as_of,
            cutoff,
            out: Vec::new(),
            stale: Vec::new(),
            late: Vec::new(),
            zones: std::collections::HashMap::new(),
        }
    }

    pub(crate) fn push(&mut self, r: FactsRaw) {
        let tz = match self.zones.get(&r.time_zone) {
            Some(tz) => *tz,
            None => {
                let tz = r.time_zone.parse::<chrono_tz::Tz>().ok();
                self.zones.insert(r.time_zone.clone(), tz);
                tz
            }
        };
        let mut f = MemberFacts {
            member_id: r.id,
            external_id: r.external_id,
            time_zone: r.time_zone,
            registered_at: r.registered_at,
            profile_filled: r.filled,
            first_order_day: None,
            last_order_day: None,
            orders: r.orders,
            order_days: r.order_days,
            monetary: r.monetary,
            last_active_at: r.last_active_at,
        };
        // No live order: every order is fully refunded and nets to zero, whatever its day.
        let exact = r.orders == 0
            || (r
                .last_order_date
                .as_deref()
                .is_some_and(|d| d <= self.as_of)
                && tz.is_some()
                && r.first_order_at.is_some());
        if exact {
            f.first_order_day = r
                .first_order_at
                .zip(tz)
                .and_then(|(ms, tz)| local_day(ms, tz));
            f.last_order_day = r.last_order_date;
        } else {
            self.stale.push(self.out.len());
        }
        if f.last_active_at.is_some_and(|t| t > self.cutoff) {
            self.late.push(self.out.len());
        }
        self.out.push(f);
    }
}

/// Rows per packed read.
pub(crate) const PACK: i64 = 50_000;
const FIELD_SEP: char = '\u{1f}';
const RECORD_SEP: char = '\u{1e}';
const NULL_MARK: &str = "\u{1d}";

/// SQLite only: a keyset page of `exprs` packed into one text value (records joined by
/// U+001E, fields by U+001F, NULL as U+001D). The SQLite driver hands rows over one by
/// one through a channel, which costs far more than the scan itself for million-row reads;
/// one row per page removes that cost. Binds: `$1` workspace, `$2` key to start after.
pub(crate) fn packed_sql(
    exprs: &[&str],
    from: &str,
    filter: &str,
    key: &str,
    key_cast: &str,
    limit: i64,
) -> String {
    let rec = exprs
        .iter()
        .map(|e| format!("COALESCE(CAST({e} AS TEXT), char(29))"))
        .collect::<Vec<_>>()
        .join(" || char(31) || ");
    format!(
        "SELECT group_concat(rec, char(30)), CAST(max(k) AS TEXT), count(*) FROM \
         (SELECT {rec} AS rec, {key} AS k FROM {from} WHERE {filter} AND {key} > {key_cast} ORDER BY {key} LIMIT {limit})"
    )
}

/// Splits a packed page into its fields, `n` per record (walk the records with
/// `chunks_exact(n)`): one vector per page, not one per record. `None` when a value held a
/// separator (the caller then reads row by row).
pub(crate) fn unpack(text: &str, n: usize) -> Option<Vec<Option<&str>>> {
    let mut out = Vec::new();
    for rec in text.split(RECORD_SEP) {
        let before = out.len();
        out.extend(
            rec.split(FIELD_SEP)
                .map(|f| if f == NULL_MARK { None } else { Some(f) }),
        );
        if out.len() - before != n {
            return None;
        }
    }
    Some(out)
}

pub(crate) fn int(f: Option<&str>) -> Result<Option<i64>> {
    f.map(|v| {
        v.parse::<i64>()
            .map_err(|e| crate::error::StoreError::Corrupt(format!("packed integer `{v}`: {e}")))
    })
    .transpose()
}

pub(crate) fn text(f: Option<&str>) -> Option<String> {
    f.map(str::to_owned)
}

pub(crate) const INTEL_COLUMNS: &str = "member_id, stage, stage_since, previous_stage, r_score, f_score, m_score, \
     rfm_class, value_class, scored_on";

/// The columns of [`INDEX_SELECT`], for the packed SQLite read.
pub(crate) const INDEX_EXPRS: [&str; 27] = [
    "m.id",
    "m.time_zone",
    "m.gender",
    "m.birthday",
    "m.region",
    "m.channel",
    "m.registered_at",
    "m.attributes",
    "m.tags",
    "COALESCE(s.order_count, 0)",
    "COALESCE(s.paid_minor, 0) - COALESCE(s.refunded_minor, 0)",
    "s.last_order_at",
    "g.stage",
    "g.stage_since",
    "g.previous_stage",
    "g.r_score",
    "g.f_score",
    "g.m_score",
    "g.rfm_class",
    "g.value_class",
    "g.scored_on",
    "l.tier",
    "COALESCE(l.points_balance, 0)",
    "COALESCE(l.sv_principal, 0) + COALESCE(l.sv_bonus, 0)",
    "s.first_order_at",
    "m.income_band",
    "m.consent",
];

pub(crate) const INDEX_FROM: &str = super::SEGMENT_FROM;

pub(crate) const INDEX_SELECT: &str = "SELECT m.id, m.time_zone, m.gender, m.birthday, m.region, m.channel, \
     m.registered_at, m.attributes, m.tags, COALESCE(s.order_count, 0) AS orders, \
     COALESCE(s.paid_minor, 0) - COALESCE(s.refunded_minor, 0) AS spend, s.last_order_at, \
     g.stage, g.stage_since, g.previous_stage, g.r_score, g.f_score, g.m_score, g.rfm_class, g.value_class, g.scored_on, \
     l.tier, COALESCE(l.points_balance, 0) AS points_balance, \
     COALESCE(l.sv_principal, 0) + COALESCE(l.sv_bonus, 0) AS stored_value, s.first_order_at, m.income_band, m.consent \
     FROM members m LEFT JOIN member_stats s ON s.member_id = m.id LEFT JOIN member_segments g ON g.member_id = m.id \
     LEFT JOIN loyalty_members l ON l.member_id = m.id";
