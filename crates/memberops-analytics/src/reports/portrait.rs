//! Member portrait in aggregate (用户画像): how a set of members (everyone, or a segment)
//! divides by gender, age band, region, acquisition channel, tier, lifecycle stage, RFM
//! class and value class.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::rate;

/// A member's profile as the portrait reads it (`None`: not known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub gender: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub region: Option<String>,
    pub channel: Option<String>,
    pub tier: Option<String>,
    pub stage: Option<String>,
    pub rfm_class: Option<String>,
    pub value_class: Option<String>,
}

/// The dimensions, in the order they are given.
pub const DIMENSIONS: [&str; 8] = [
    "gender",
    "age_band",
    "region",
    "channel",
    "tier",
    "stage",
    "rfm_class",
    "value_class",
];

/// The value of a member without one.
pub const UNKNOWN: &str = "(unknown)";

/// Age bands: lower bounds of each band after `<18`.
const BANDS: [(u32, &str); 6] = [
    (18, "18-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65+"),
];

/// Whole years from `birthday` to `on` (`None` for a birthday after it).
pub fn age(birthday: NaiveDate, on: NaiveDate) -> Option<u32> {
    let mut years = on.year() - birthday.year();
    if (on.month(), on.day()) < (birthday.month(), birthday.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// The age band on `on`: `<18`, `18-24`, `25-34`, `35-44`, `45-54`, `55-64`, `65+`.
pub fn age_band(birthday: NaiveDate, on: NaiveDate) -> Option<&'static str> {
    let a = age(birthday, on)?;
    Some(
        BANDS
            .iter()
            .rev()
            .find(|(low, _)| a >= *low)
            .map_or("<18", |(_, name)| name),
    )
}

/// One value of one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PortraitRow {
    pub dimension: String,
    /// The value (`(unknown)`: not known).
    pub value: String,
    pub members: u64,
    /// `members` over all the members counted (6 decimals).
    pub share: f64,
}

/// The CSV columns of [`PortraitRow`].
pub const PORTRAIT_COLUMNS: [&str; 4] = ["dimension", "value", "members", "share"];

impl PortraitRow {
    pub fn csv_record(&self) -> Vec<String> {
        vec![
            self.dimension.clone(),
            self.value.clone(),
            self.members.to_string(),
            self.share.to_string(),
        ]
    }
}

/// The distributions of `profiles` (ages on `on`): dimension by dimension in
/// [`DIMENSIONS`] order, values by count (largest first, then by name), `(unknown)` last.
pub fn portrait<'a>(
    profiles: impl IntoIterator<Item = &'a Profile>,
    on: NaiveDate,
) -> Vec<PortraitRow> {
    let mut counts: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); DIMENSIONS.len()];
    let mut total = 0u64;
    for p in profiles {
        total += 1;
        let band = p.birthday.and_then(|b| age_band(b, on)).map(str::to_owned);
        let values = [
            &p.gender,
            &band,
            &p.region,
            &p.channel,
            &p.tier,
            &p.stage,
            &p.rfm_class,
            &p.value_class,
        ];
        for (c, v) in counts.iter_mut().zip(values) {
            let key = v
                .as_deref()
                .filter(|v| !v.is_empty())
                .unwrap_or(UNKNOWN)
                .to_owned();
            *c.entry(key).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (dim, c) in DIMENSIONS.iter().zip(counts) {
        let mut values: Vec<(String, u64)> = c.into_iter().collect();
        values.sort_by(|a, b| {
            (a.0 == UNKNOWN, std::cmp::Reverse(a.1), &a.0).cmp(&(
                b.0 == UNKNOWN,
                std::cmp::Reverse(b.1),
                &b.0,
            ))
        });
        out.extend(values.into_iter().map(|(value, members)| PortraitRow {
            dimension: (*dim).to_owned(),
            value,
            members,
            share: rate(members, total),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn ages_count_whole_years_to_the_day() {
        let on = d("2026-03-15");
        assert_eq!(
            age(d("2008-03-15"), on),
            Some(18),
            "the 18th birthday itself"
        );
        assert_eq!(age(d("2008-03-16"), on), Some(17));
        assert_eq!(age_band(d("2008-03-16"), on), Some("<18"));
        assert_eq!(age_band(d("2008-03-15"), on), Some("18-24"));
        assert_eq!(
            age_band(d("2001-03-16"), on),
            Some("18-24"),
            "24 until tomorrow"
        );
        assert_eq!(age_band(d("1961-03-15"), on), Some("65+"));
        assert_eq!(age_band(d("2027-01-01"), on), None, "not born yet");
    }

    #[test]
    fn each_dimension_divides_every_member() {
        let p = |g: Option<&str>, b: Option<&str>, tier: &str| Profile {
            gender: g.map(str::to_owned),
            birthday: b.map(d),
            region: Some("north".into()),
            tier: Some(tier.into()),
            ..Profile::default()
        };
        let members = [
            p(Some("female"), Some("1990-01-01"), "gold"),
            p(Some("female"), Some("2000-06-01"), "silver"),
            p(Some("male"), None, "silver"),
            p(None, Some("1995-12-31"), "silver"),
        ];
        let rows = portrait(&members, d("2026-03-15"));
        let dim = |name: &str| -> Vec<(String, u64, f64)> {
            rows.iter()
                .filter(|r| r.dimension == name)
                .map(|r| (r.value.clone(), r.members, r.share))
                .collect()
        };
        let v = |s: &str, n, share| (s.to_owned(), n, share);
        assert_eq!(
            dim("gender"),
            vec![v("female", 2, 0.5), v("male", 1, 0.25), v(UNKNOWN, 1, 0.25)]
        );
        // 36, 25 and 30 years old; one without a birthday.
        assert_eq!(
            dim("age_band"),
            vec![v("25-34", 2, 0.5), v("35-44", 1, 0.25), v(UNKNOWN, 1, 0.25)]
        );
        assert_eq!(dim("tier"), vec![v("silver", 3, 0.75), v("gold", 1, 0.25)]);
        assert_eq!(dim("region"), vec![v("north", 4, 1.0)]);
        assert_eq!(dim("stage"), vec![v(UNKNOWN, 4, 1.0)]);
        assert_eq!(rows[0].csv_record().join(","), "gender,female,2,0.5");
        assert!(portrait(&[], d("2026-03-15")).is_empty());
    }
}
