//! Money in integer minor units (分, cents). Amounts arrive as decimal text in major units
//! ("12.50") and are converted exactly: no floating point ever touches a balance.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// An ISO 4217 code with its minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    pub const CNY: Currency = Currency {
        code: *b"CNY",
        exponent: 2,
    };

    /// Parses a three-letter code. Zero- and three-decimal currencies are known by name;
    /// every other well-formed code has two decimals, like almost all currencies.
    pub fn parse(code: &str) -> Result<Self, Invalid> {
        let upper = code.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(Invalid::one(
                &["currency"],
                "invalid_currency",
                format!("`{code}` is not a three-letter currency code"),
            ));
        }
        let exponent = match &upper[..] {
            "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" | "PYG" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "LYD" | "IQD" => 3,
            _ => 2,
        };
        Ok(Currency {
            code: [bytes[0], bytes[1], bytes[2]],
            exponent,
        })
    }

    pub fn code(&self) -> &str {
        // The bytes were checked to be ASCII letters when the value was made.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The largest amount one order, refund, top-up or adjustment may carry, in minor units
/// (100,000,000,000.00 in a two-decimal currency; points alike). Far above any real order,
/// and far enough below `i64::MAX` that no sum of real amounts can wrap: an amount beyond
/// it is refused at the edge (`amount_too_large`), never stored.
pub const MAX_MINOR: i64 = 10_000_000_000_000;

/// Refuses a magnitude beyond [`MAX_MINOR`], naming the field.
pub fn check_bound(minor: i64, field: &str) -> Result<i64, Invalid> {
    if minor.checked_abs().is_some_and(|m| m <= MAX_MINOR) {
        Ok(minor)
    } else {
        Err(Invalid::one(
            &[field],
            "amount_too_large",
            format!("at most {MAX_MINOR} minor units (points) in one operation"),
        ))
    }
}

/// An amount in minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// Parses decimal major units exactly: "12.5" CNY is 1250. More decimals than the
    /// currency has are refused rather than rounded (a rounding would lose money silently).
    pub fn parse_major(text: &str, currency: Currency) -> Result<Money, Invalid> {
        let bad = |why: &str| {
            Invalid::one(
                &["amount"],
                "invalid_amount",
                format!("`{text}` is not an amount: {why}"),
            )
        };
        let t = text.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("no digits"));
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("only digits and one decimal point are allowed"));
        }
        let exp = usize::from(currency.exponent);
        let frac_trimmed = frac_part.trim_end_matches('0');
        if frac_trimmed.len() > exp {
            return Err(bad(&format!("{} allows {exp} decimals", currency.code())));
        }
        let mut minor: i64 = 0;
        let scale_digits = frac_trimmed
            .bytes()
            .chain(std::iter::repeat_n(b'0', exp - frac_trimmed.len()));
        for b in int_part.bytes().chain(scale_digits) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(|| bad("too large"))?;
        }
        check_bound(minor, "amount")?;
        Ok(Money {
            minor: if negative { -minor } else { minor },
            currency,
        })
    }

    /// Like [`Money::parse_major`], but more decimals than the currency has are rounded to
    /// the nearest minor unit, halves away from zero. For external files (exports computed
    /// in floating point write `15.299999999999999`), never for API input.
    pub fn parse_major_rounded(text: &str, currency: Currency) -> Result<Money, Invalid> {
        let t = text.trim();
        let exp = usize::from(currency.exponent);
        let Some((int_part, frac)) = t.split_once('.') else {
            return Money::parse_major(t, currency);
        };
        if frac.len() <= exp || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Money::parse_major(t, currency);
        }
        let kept = format!("{int_part}.{}", &frac[..exp]);
        let mut m = Money::parse_major(kept.trim_end_matches('.'), currency)?;
        if frac.as_bytes()[exp] >= b'5' {
            let negative = int_part.starts_with('-');
            m.minor = if negative {
                m.minor.checked_sub(1)
            } else {
                m.minor.checked_add(1)
            }
            .ok_or_else(|| Invalid::one(&["amount"], "invalid_amount", "too large"))?;
        }
        Ok(m)
    }

    /// A JSON amount: a string, an integer or a decimal number. Numbers are read from their
    /// shortest text form, which is exact for every amount a person writes.
    pub fn from_json(v: &serde_json::Value, currency: Currency) -> Result<Money, Invalid> {
        match v {
            serde_json::Value::String(s) => Money::parse_major(s, currency),
            serde_json::Value::Number(n) => Money::parse_major(&n.to_string(), currency),
            _ => Err(Invalid::one(
                &["amount"],
                "invalid_amount",
                "amount must be a number or a decimal string",
            )),
        }
    }

    /// Major units as decimal text ("12.50").
    pub fn to_major_string(&self) -> String {
        format_minor(self.minor, self.currency.exponent)
    }
}

pub fn format_minor(minor: i64, exponent: u8) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(u32::from(exponent));
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = usize::from(exponent)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_major_units_exactly() {
        let cny = Currency::CNY;
        assert_eq!(Money::parse_major("12.50", cny).map(|m| m.minor), Ok(1250));
        assert_eq!(Money::parse_major("12.5", cny).map(|m| m.minor), Ok(1250));
        assert_eq!(Money::parse_major("0.07", cny).map(|m| m.minor), Ok(7));
        assert_eq!(Money::parse_major(".5", cny).map(|m| m.minor), Ok(50));
        assert_eq!(Money::parse_major("100", cny).map(|m| m.minor), Ok(10000));
        assert_eq!(Money::parse_major("-3.10", cny).map(|m| m.minor), Ok(-310));
        assert_eq!(Money::parse_major("1.230", cny).map(|m| m.minor), Ok(123));
        let jpy = Currency::parse("jpy").expect("jpy");
        assert_eq!(Money::parse_major("500", jpy).map(|m| m.minor), Ok(500));
    }

    #[test]
    fn refuses_what_would_need_rounding_or_is_not_a_number() {
        let cny = Currency::CNY;
        for bad in [
            "1.234",
            "abc",
            "",
            ".",
            "1,00",
            "1e3",
            "--1",
            "99999999999999999999",
        ] {
            assert!(Money::parse_major(bad, cny).is_err(), "{bad} accepted");
        }
        assert!(Money::parse_major("1.5", Currency::parse("JPY").expect("jpy")).is_err());
    }

    #[test]
    fn rounding_for_files_goes_to_the_nearest_minor_unit() {
        let cny = Currency::CNY;
        let r = |t: &str| Money::parse_major_rounded(t, cny).map(|m| m.minor);
        assert_eq!(r("15.299999999999999"), Ok(1530));
        assert_eq!(r("2.345"), Ok(235));
        assert_eq!(r("2.344"), Ok(234));
        assert_eq!(r("-2.345"), Ok(-235));
        assert_eq!(r("0.005"), Ok(1));
        assert_eq!(r("12.5"), Ok(1250));
        assert!(r("1.2x5").is_err());
        assert_eq!(
            Money::parse_major_rounded("7.5", Currency::parse("JPY").expect("jpy"))
                .map(|m| m.minor),
            Ok(8)
        );
    }

    #[test]
    fn json_numbers_are_exact() {
        let v: serde_json::Value =
            serde_json::from_str("[19.99, 0.1, 1234567.89, 3]").expect("json");
        let got: Vec<i64> = v
            .as_array()
            .expect("array")
            .iter()
            .map(|x| Money::from_json(x, Currency::CNY).expect("amount").minor)
            .collect();
        assert_eq!(got, vec![1999, 10, 123456789, 300]);
    }

    proptest! {
        #[test]
        fn amounts_beyond_the_bound_are_refused_never_wrapped(minor in MAX_MINOR + 1..i64::MAX, neg in any::<bool>()) {
            let text = format_minor(minor, 2);
            let text = if neg { format!("-{text}") } else { text };
            let err = Money::parse_major(&text, Currency::CNY).expect_err("beyond the bound");
            prop_assert_eq!(err.code(), "amount_too_large");
        }

        #[test]
        fn the_bound_itself_is_an_amount(neg in any::<bool>()) {
            let minor = if neg { -MAX_MINOR } else { MAX_MINOR };
            prop_assert_eq!(Money::parse_major(&format_minor(minor, 2), Currency::CNY).map(|m| m.minor), Ok(minor));
            prop_assert_eq!(check_bound(minor, "x"), Ok(minor));
            prop_assert!(check_bound(i64::MIN, "x").is_err());
        }

        #[test]
        fn format_then_parse_is_identity(minor in -10_000_000_000_000i64..10_000_000_000_000i64, exp in prop::sample::select(vec!["CNY", "JPY", "KWD"])) {
            let c = Currency::parse(exp).expect("currency");
            let text = format_minor(minor, c.exponent());
            prop_assert_eq!(Money::parse_major(&text, c).map(|m| m.minor), Ok(minor));
        }
    }
}
