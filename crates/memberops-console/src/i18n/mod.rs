//! The console's two languages: 简体中文 and English. Every text a page shows is a key
//! in [`messages`]; numbers, money and dates are formatted per locale here.

mod messages;

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;
use memberops_core::Currency;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    ZhCn,
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::En];

    pub fn code(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }

    /// Its own name, as the language switch shows it.
    pub fn name(self) -> &'static str {
        match self {
            Locale::ZhCn => "简体中文",
            Locale::En => "English",
        }
    }

    pub fn parse(code: &str) -> Option<Locale> {
        let c = code.trim().to_ascii_lowercase();
        if c == "zh" || c.starts_with("zh-") || c.starts_with("zh_") {
            Some(Locale::ZhCn)
        } else if c == "en" || c.starts_with("en-") || c.starts_with("en_") {
            Some(Locale::En)
        } else {
            None
        }
    }

    /// The best language of an `Accept-Language` header (by `q`), English when it names
    /// neither.
    pub fn negotiate(accept_language: Option<&str>) -> Locale {
        let Some(h) = accept_language else {
            return Locale::En;
        };
        let mut best: Option<(f32, Locale)> = None;
        for part in h.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("");
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Locale::parse(tag)
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map_or(Locale::En, |(_, l)| l)
    }

    /// The text of `key`; the key itself when the catalog lacks it (a test checks none
    /// is missing).
    pub fn t(self, key: &str) -> &str {
        messages::get(key, self).unwrap_or(key)
    }

    /// `1,234,567` (both locales group by thousands).
    pub fn number(self, n: i64) -> String {
        group(&n.unsigned_abs().to_string(), n < 0)
    }

    /// `¥1,234.50`.
    pub fn money(self, minor: i64, currency: &Currency) -> String {
        let text = memberops_core::money::format_minor(minor.abs(), currency.exponent());
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let sign = if minor < 0 { "-" } else { "" };
        let grouped = group(int, false);
        let symbol = symbol(currency.code());
        if frac.is_empty() {
            format!("{sign}{symbol}{grouped}")
        } else {
            format!("{sign}{symbol}{grouped}.{frac}")
        }
    }

    /// `2026年12月5日` / `Dec 5, 2026`.
    pub fn date(self, d: NaiveDate) -> String {
        match self {
            Locale::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
            Locale::En => d.format("%b %-d, %Y").to_string(),
        }
    }

    /// A date and time in `tz`: `2026年12月5日 14:30` / `Dec 5, 2026 14:30`.
    pub fn datetime(self, t: chrono::DateTime<chrono::Utc>, tz: Tz) -> String {
        let l = t.with_timezone(&tz);
        format!(
            "{} {:02}:{:02}",
            self.date(l.date_naive()),
            l.hour(),
            l.minute()
        )
    }
}

fn symbol(code: &str) -> String {
    match code {
        "CNY" | "JPY" => "¥".into(),
        "USD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "HKD" => "HK$".into(),
        other => format!("{other} "),
    }
}

fn group(digits: &str, negative: bool) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if negative { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_known_language() {
        assert_eq!(
            Locale::negotiate(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Locale::ZhCn
        );
        assert_eq!(
            Locale::negotiate(Some("en-US,en;q=0.9,zh;q=0.8")),
            Locale::En
        );
        assert_eq!(Locale::negotiate(Some("fr-FR,zh-TW;q=0.5")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(Some("de")), Locale::En);
        assert_eq!(Locale::negotiate(None), Locale::En);
    }

    #[test]
    fn money_and_dates_follow_the_locale() {
        let cny = Currency::CNY;
        assert_eq!(Locale::ZhCn.money(123450, &cny), "¥1,234.50");
        assert_eq!(Locale::En.money(-5, &cny), "-¥0.05");
        assert_eq!(Locale::En.number(1234567), "1,234,567");
        assert_eq!(Locale::En.number(-999), "-999");
        let d = NaiveDate::from_ymd_opt(2026, 12, 5).expect("date");
        assert_eq!(Locale::ZhCn.date(d), "2026年12月5日");
        assert_eq!(Locale::En.date(d), "Dec 5, 2026");
    }
}
