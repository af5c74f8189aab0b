//! The per-member row segments are evaluated over, and the calendar helpers both the row
//! evaluator and the columnar index use (sharing them is what keeps the two exact twins).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use memberops_core::member::Gender;
use memberops_core::time::Millis;
use serde::{Deserialize, Serialize};

use crate::lifecycle::Stage;
use crate::rfm::RfmClass;
use crate::value_class::ValueClass;

/// Everything a segment condition can look at for one member. `None` is "not known".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRow {
    pub member_id: String,
    /// The member's IANA zone: calendar conditions (age, birthday, "in the last 30 days")
    /// are answered on the member's own calendar. Serialised as the IANA name.
    #[serde(with = "tz_name")]
    pub time_zone: Tz,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub registered_at: Option<Millis>,
    pub orders: u32,
    /// Paid minus refunded, minor units.
    pub spend: i64,
    pub last_order_at: Option<Millis>,
    pub points_balance: i64,
    pub tier: Option<String>,
    pub stage: Option<Stage>,
    pub r: Option<u8>,
    pub f: Option<u8>,
    pub m: Option<u8>,
    pub rfm_class: Option<RfmClass>,
    pub value_class: Option<ValueClass>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// First order that is not fully refunded.
    #[serde(default)]
    pub first_order_at: Option<Millis>,
    #[serde(default)]
    pub income_band: Option<String>,
    /// Stored-value balance (principal + bonus), minor units.
    #[serde(default)]
    pub stored_value: i64,
    /// Consent per channel, as the profile records it (a channel left out is unknown).
    #[serde(default)]
    pub consent: BTreeMap<String, bool>,
    /// Home store code (门店).
    #[serde(default)]
    pub store: Option<String>,
    /// Owning staff member's code (导购).
    #[serde(default)]
    pub staff: Option<String>,
    /// Predicted value of the last refresh (`None` without a prediction): P(alive),
    /// expected orders in 90 days, 12-month CLV in major units.
    #[serde(default)]
    pub p_alive: Option<f64>,
    #[serde(default)]
    pub expected_orders_90d: Option<f64>,
    #[serde(default)]
    pub clv_12m: Option<f64>,
}

impl MemberRow {
    /// An empty row: no profile, no orders.
    pub fn new(member_id: impl Into<String>, time_zone: Tz) -> MemberRow {
        MemberRow {
            member_id: member_id.into(),
            time_zone,
            gender: None,
            birthday: None,
            region: None,
            channel: None,
            registered_at: None,
            orders: 0,
            spend: 0,
            last_order_at: None,
            points_balance: 0,
            tier: None,
            stage: None,
            r: None,
            f: None,
            m: None,
            rfm_class: None,
            value_class: None,
            tags: Vec::new(),
            attributes: BTreeMap::new(),
            first_order_at: None,
            income_band: None,
            stored_value: 0,
            consent: BTreeMap::new(),
            store: None,
            staff: None,
            p_alive: None,
            expected_orders_90d: None,
            clv_12m: None,
        }
    }

    /// Average order value in minor units (truncated); `None` before the first order.
    pub fn aov(&self) -> Option<i64> {
        aov(self.spend, self.orders)
    }
}

/// IANA zone as its name, without needing chrono-tz's serde feature.
mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>()
            .map_err(|_| serde::de::Error::custom(format!("`{name}` is not an IANA time zone")))
    }
}

pub(crate) fn aov(spend: i64, orders: u32) -> Option<i64> {
    (orders > 0).then(|| spend / i64::from(orders))
}

/// The local calendar day of an instant in `tz`.
pub fn local_day(ms: Millis, tz: Tz) -> NaiveDate {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).date_naive(),
        // Out of chrono's range: clamp so comparisons still order sensibly.
        None if ms < 0 => NaiveDate::MIN,
        None => NaiveDate::MAX,
    }
}

/// Days from `today` to the next birthday on or after `today` (0 = today). A 29 February
/// birthday is celebrated on 28 February in common years.
pub fn days_until_birthday(birthday: NaiveDate, today: NaiveDate) -> i64 {
    let on = |year: i32| {
        NaiveDate::from_ymd_opt(year, birthday.month(), birthday.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
    };
    let this_year = on(today.year());
    match this_year {
        Some(d) if d >= today => (d - today).num_days(),
        _ => on(today.year() + 1)
            .map(|d| (d - today).num_days())
            .unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn birthdays_roll_over_the_year_and_handle_leap_days() {
        assert_eq!(days_until_birthday(d("1990-01-03"), d("2026-12-30")), 4);
        assert_eq!(days_until_birthday(d("1990-12-30"), d("2026-12-30")), 0);
        assert_eq!(days_until_birthday(d("2000-02-29"), d("2026-02-27")), 1);
        assert_eq!(days_until_birthday(d("2000-02-29"), d("2028-02-27")), 2);
        assert_eq!(days_until_birthday(d("2000-02-29"), d("2026-03-01")), 364);
    }

    #[test]
    fn local_day_uses_the_zone() {
        let ms = 1_769_889_600_000; // 2026-01-31T20:00:00Z
        assert_eq!(local_day(ms, chrono_tz::Asia::Shanghai), d("2026-02-01"));
        assert_eq!(local_day(ms, chrono_tz::UTC), d("2026-01-31"));
    }
}
