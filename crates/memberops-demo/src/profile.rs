//! The `member.registered` payload: a profile an operator would recognise — gender, age,
//! income, where the member lives, how they found the brand, what they agreed to receive.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use crate::behaviour::{Channel, Persona};
use crate::calendar;
use crate::names::{self, Country, Place};
use crate::sample::{self, DemoRng};

/// Product categories of the (department-store-like) demo brand.
pub const CATEGORIES: &[&str] = &[
    "美妆护肤",
    "服饰鞋包",
    "食品饮料",
    "母婴用品",
    "家居生活",
    "数码家电",
    "运动户外",
    "个护清洁",
];

/// Typical basket by category, as a factor on the ¥100 base price (with the spend persona
/// on top, the median order lands around ¥150).
pub fn category_price_factor(category: &str) -> f64 {
    match category {
        "美妆护肤" => 1.3,
        "服饰鞋包" => 1.4,
        "食品饮料" => 0.55,
        "母婴用品" => 1.0,
        "家居生活" => 0.9,
        "数码家电" => 3.0,
        "运动户外" => 1.5,
        "个护清洁" => 0.5,
        "年货礼盒" => 1.8,
        _ => 1.0,
    }
}

const INCOME_BANDS: &[&str] = &["<5k", "5k-10k", "10k-20k", "20k-50k", "50k+"];

pub struct Profile {
    pub properties: Map<String, Value>,
    pub preferred_category: &'static str,
}

pub struct ProfileInput<'a> {
    pub index: usize,
    pub seed: u64,
    pub today: NaiveDate,
    pub persona: &'a Persona,
    pub place: &'static Place,
    pub tz: Tz,
    pub registered_at: DateTime<Utc>,
}

pub fn profile(rng: &mut DemoRng, input: &ProfileInput<'_>) -> Profile {
    let channel: &Channel = input.persona.channel;
    let gender = *sample::weighted(
        rng,
        &[
            ("female", 57.0),
            ("male", 37.0),
            ("other", 1.0),
            ("unknown", 3.0),
            ("", 2.0),
        ],
        |g| g.1,
    );
    let female = match gender.0 {
        "female" => Some(true),
        "male" => Some(false),
        _ => None,
    };
    let name = names::name(rng, female);

    // Born 1960–2008, most members in their twenties and thirties.
    let birthday = if sample::chance(rng, 0.88) {
        let years: Vec<f64> = (1960..=2008)
            .map(|y| (-(f64::from(y - 1993) / 9.0).powi(2) / 2.0).exp() + 0.05)
            .collect();
        let year = 1960 + sample::weighted_index(rng, &years) as i32;
        let month = sample::int(rng, 1, 12) as u32;
        let day = sample::int(rng, 1, 31) as u32;
        (1..=day)
            .rev()
            .find_map(|d| NaiveDate::from_ymd_opt(year, month, d))
    } else {
        None
    };
    let age = birthday.map(|b| input.today.year() - b.year());

    let mut categories: Vec<f64> = vec![1.0; CATEGORIES.len()];
    match female {
        Some(true) => {
            categories[0] = 3.0;
            categories[1] = 2.0;
            categories[3] = if age.is_some_and(|a| (25..=40).contains(&a)) {
                2.5
            } else {
                0.4
            };
        }
        Some(false) => {
            categories[5] = 2.5;
            categories[6] = 2.0;
            categories[3] = 0.4;
        }
        None => {}
    }
    let preferred_category = CATEGORIES[sample::weighted_index(rng, &categories)];

    let mut p = Map::new();
    let phone = sample::chance(rng, 0.95)
        .then(|| names::phone(rng, input.place.country, input.index, input.seed));
    if let Some(phone) = phone {
        p.insert("phone".into(), Value::String(phone));
    }
    let abroad = input.place.country != Country::China;
    let has_email = sample::chance(rng, if abroad { 0.9 } else { 0.5 });
    if has_email {
        let email = names::email(
            rng,
            &name,
            birthday.map(|b| b.year()),
            input.place.country,
            input.index,
            input.seed,
        );
        p.insert("email".into(), Value::String(email));
    }
    p.insert("name".into(), Value::String(name.hanzi));
    if !gender.0.is_empty() {
        p.insert("gender".into(), json!(gender.0));
    }
    if let Some(b) = birthday {
        p.insert("birthday".into(), json!(b.format("%Y-%m-%d").to_string()));
    }
    if sample::chance(rng, 0.75) {
        // Richer members spend more: the income band leans on the spend persona.
        let score = 1.5
            + 0.9 * sample::normal(rng)
            + 0.6 * input.persona.whale.ln()
            + if age.is_some_and(|a| a < 23) {
                -1.0
            } else {
                0.0
            };
        let band = score.round().clamp(0.0, 4.0) as usize;
        p.insert("income_band".into(), json!(INCOME_BANDS[band]));
    }
    p.insert("region".into(), json!(input.place.region));
    p.insert("channel".into(), json!(channel.name));
    p.insert(
        "registered_at".into(),
        json!(calendar::rfc3339(input.tz, input.registered_at)),
    );
    p.insert("time_zone".into(), json!(input.place.time_zone));

    let app_like = matches!(channel.name, "app_store" | "douyin");
    let mut consent = Map::new();
    let email_ok = has_email && sample::chance(rng, 0.55);
    consent.insert("email".into(), json!(email_ok));
    consent.insert("sms".into(), json!(sample::chance(rng, 0.7)));
    consent.insert(
        "push".into(),
        json!(sample::chance(rng, if app_like { 0.7 } else { 0.45 })),
    );
    consent.insert(
        "wechat".into(),
        json!(sample::chance(rng, if abroad { 0.3 } else { 0.8 })),
    );
    consent.insert("phone".into(), json!(sample::chance(rng, 0.25)));
    consent.insert("inapp".into(), json!(sample::chance(rng, 0.92)));
    p.insert("consent".into(), Value::Object(consent));

    let mut attributes = Map::new();
    attributes.insert("preferred_category".into(), json!(preferred_category));
    let reg_day = calendar::local_day(input.tz, input.registered_at);
    match channel.name {
        "store" | "offline_event" => {
            let city = ["SH", "BJ", "SZ", "GZ", "HZ", "CD", "NJ", "WH"];
            let code = format!(
                "{}-{:03}",
                sample::one_of(rng, &city),
                sample::int(rng, 1, 40)
            );
            attributes.insert("store_code".into(), json!(code));
        }
        "douyin" | "xiaohongshu" => {
            let campaign = campaign_name(channel.name, reg_day);
            attributes.insert("utm_campaign".into(), json!(campaign));
        }
        "referral" if input.index > 0 => {
            let referrer = sample::int(rng, 0, input.index as i64 - 1) as usize;
            attributes.insert(
                "referrer".into(),
                json!(crate::member_external_id(referrer)),
            );
        }
        _ => {}
    }
    p.insert("attributes".into(), Value::Object(attributes));

    let mut tags = Vec::new();
    if age.is_some_and(|a| a < 23) {
        tags.push("学生");
    }
    if female == Some(true) && preferred_category == "母婴用品" {
        tags.push("宝妈");
    }
    if abroad {
        tags.push("海外会员");
    }
    if channel.name == "offline_event" {
        tags.push("线下活动");
    }
    if !tags.is_empty() {
        p.insert("tags".into(), json!(tags));
    }
    Profile {
        properties: p,
        preferred_category,
    }
}

/// Paid-ads campaigns are named after the sales moment they ran for.
fn campaign_name(channel: &str, day: NaiveDate) -> String {
    let moment = match (day.month(), day.day()) {
        (10, 20..=31) | (11, 1..=12) => "double11",
        (5, 20..=31) | (6, 1..=20) => "618",
        (12, _) => "double12",
        (1, _) | (2, _) => "cny",
        (3, 1..=10) => "38",
        _ => "always-on",
    };
    format!("{channel}-{}-{moment}", day.year())
}
