//! Phone numbers: one stored form (E.164) and look-ups across the ways members write them.
//!
//! Members register as "+86 138 0013 8000" or as "13800138000", and staff at a counter type
//! either. Every number is stored in E.164 ("+8613800138000", see [`to_e164`]); a national
//! number takes the workspace's calling code. A search still tries the national forms, so
//! rows written before numbers were normalised are found too. Country calling codes (ITU-T
//! E.164) are prefix-free, so a number with `+` splits into code and national number in at
//! most one way.

use crate::error::Invalid;

/// The calling code of a workspace that did not set one (mainland China).
pub const DEFAULT_CALLING_CODE: &str = "86";

/// Assigned country calling codes, zone by zone (ITU-T E.164, with the international
/// services codes 800, 808, 870, 878, 881–883, 888 and 979).
const CALLING_CODES: &[&str] = &[
    "1", //
    "20", "211", "212", "213", "216", "218", "220", "221", "222", "223", "224", "225", "226",
    "227", "228", "229", "230", "231", "232", "233", "234", "235", "236", "237", "238", "239",
    "240", "241", "242", "243", "244", "245", "246", "247", "248", "249", "250", "251", "252",
    "253", "254", "255", "256", "257", "258", "260", "261", "262", "263", "264", "265", "266",
    "267", "268", "269", "27", "290", "291", "297", "298", "299", //
    "30", "31", "32", "33", "34", "350", "351", "352", "353", "354", "355", "356", "357", "358",
    "359", "36", "370", "371", "372", "373", "374", "375", "376", "377", "378", "379", "380",
    "381", "382", "383", "385", "386", "387", "389", "39", //
    "40", "41", "420", "421", "423", "43", "44", "45", "46", "47", "48", "49", //
    "500", "501", "502", "503", "504", "505", "506", "507", "508", "509", "51", "52", "53", "54",
    "55", "56", "57", "58", "590", "591", "592", "593", "594", "595", "596", "597", "598",
    "599", //
    "60", "61", "62", "63", "64", "65", "66", "670", "672", "673", "674", "675", "676", "677",
    "678", "679", "680", "681", "682", "683", "685", "686", "687", "688", "689", "690", "691",
    "692", //
    "7",   //
    "800", "808", "81", "82", "84", "850", "852", "853", "855", "856", "86", "870", "878", "880",
    "881", "882", "883", "886", "888", //
    "90", "91", "92", "93", "94", "95", "960", "961", "962", "963", "964", "965", "966", "967",
    "968", "970", "971", "972", "973", "974", "975", "976", "977", "979", "98", "992", "993",
    "994", "995", "996", "998",
];

/// The calling code and national number of international digits (without `+`), when they
/// start with an assigned code.
pub fn split_calling_code(digits: &str) -> Option<(&str, &str)> {
    (1..=3).find_map(|len| {
        let (code, national) = (digits.get(..len)?, digits.get(len..)?);
        (CALLING_CODES.contains(&code) && !national.is_empty()).then_some((code, national))
    })
}

/// Whether `code` is an assigned country calling code ("86", "1", "852"…), without `+`.
pub fn is_calling_code(code: &str) -> bool {
    CALLING_CODES.contains(&code)
}

/// A mainland-China mobile number written nationally: 11 digits, `1`, then 3–9.
fn is_cn_mobile(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && digits_only(digits)
}

fn digits_only(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `raw` in E.164 (`+` and 8–15 digits). Spaces, dashes, dots and brackets are dropped;
/// `+` is kept and the international prefix `00` becomes `+`. A number written nationally
/// takes `calling_code` (the workspace's), with its trunk `0` dropped ("020 1234 5678" →
/// "+862012345678"); an 11-digit Chinese mobile ("138…") is +86 whatever the workspace's
/// code, since no other plan has numbers of that shape that members would type without a
/// code. Anything else (letters, too short or long, no assigned calling code) is refused
/// with `invalid_phone`.
pub fn to_e164(raw: &str, calling_code: &str) -> Result<String, Invalid> {
    let bad = |why: &str| {
        Invalid::one(
            &["phone"],
            "invalid_phone",
            format!("`{raw}` is not a phone number ({why})"),
        )
    };
    let clean: String = raw
        .trim()
        .chars()
        .filter(|ch| !matches!(ch, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let (international, digits) = if let Some(d) = clean.strip_prefix('+') {
        (true, d)
    } else if let Some(d) = clean.strip_prefix("00") {
        (true, d)
    } else {
        (false, clean.as_str())
    };
    if !digits_only(digits) {
        return Err(bad("digits only, with an optional + or 00 in front"));
    }
    let full = if international {
        digits.to_owned()
    } else if is_cn_mobile(digits) {
        format!("86{digits}")
    } else {
        if !is_calling_code(calling_code) {
            return Err(bad(
                "the workspace has no calling code for national numbers",
            ));
        }
        let national = digits.strip_prefix('0').unwrap_or(digits);
        if national.len() < 4 {
            return Err(bad("too short"));
        }
        format!("{calling_code}{national}")
    };
    if !(8..=15).contains(&full.len()) {
        return Err(bad("E.164 numbers have 8–15 digits"));
    }
    if split_calling_code(&full).is_none() {
        return Err(bad("no country calling code starts it"));
    }
    Ok(format!("+{full}"))
}

/// The stored forms a search for `normalized` (as `normalize_phone` returns it) matches:
/// the number itself; for a number without `+`, the same number with `+` and behind every
/// calling code (with its trunk `0` dropped too, as "07700 900123" is "+44 7700 900123");
/// for a number with `+`, its digits alone or behind `00`, and its national number with and
/// without a trunk `0`. A number dialled with the international prefix `00` ("0086 138…")
/// is also searched as with `+`. Every form is an exact look-up, so the search stays on the
/// phone index.
pub fn search_forms(normalized: &str) -> Vec<String> {
    let mut forms = vec![normalized.to_owned()];
    if let Some(international) = normalized.strip_prefix("00").filter(|d| !d.is_empty()) {
        forms.extend(search_forms(&format!("+{international}")));
    }
    match normalized.strip_prefix('+') {
        None => {
            // Written without its `+`: "8613800138000".
            forms.push(format!("+{normalized}"));
            let trunkless = normalized.strip_prefix('0');
            for code in CALLING_CODES {
                forms.push(format!("+{code}{normalized}"));
                if let Some(national) = trunkless {
                    forms.push(format!("+{code}{national}"));
                }
            }
        }
        Some(digits) => {
            forms.push(digits.to_owned());
            forms.push(format!("00{digits}"));
            if let Some((_, national)) = split_calling_code(digits) {
                forms.push(national.to_owned());
                forms.push(format!("0{national}"));
            }
        }
    }
    forms.sort_unstable();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str, code: &str) -> Result<String, String> {
        to_e164(raw, code).map_err(|e| e.0[0].code.clone())
    }

    #[test]
    fn every_way_of_writing_a_number_gives_one_e164_form() {
        let want = Ok("+8613800138000".to_owned());
        for raw in [
            "+8613800138000",
            "+86 138-0013-8000",
            "008613800138000",
            "0086 (138) 0013 8000",
            "13800138000",
            "138 0013 8000",
        ] {
            assert_eq!(e164(raw, "86"), want, "{raw}");
        }
        // A Chinese mobile is +86 in any workspace; `+` always wins over the workspace.
        assert_eq!(e164("13800138000", "44"), want);
        assert_eq!(e164("+447700900123", "86"), Ok("+447700900123".to_owned()));
    }

    #[test]
    fn a_national_number_takes_the_workspace_code_without_its_trunk_zero() {
        assert_eq!(e164("07700 900123", "44"), Ok("+447700900123".to_owned()));
        assert_eq!(e164("020-1234-5678", "86"), Ok("+862012345678".to_owned()));
        assert_eq!(e164("(415) 555-0100", "1"), Ok("+14155550100".to_owned()));
        assert_eq!(e164("9123 4567", "852"), Ok("+85291234567".to_owned()));
    }

    #[test]
    fn what_cannot_be_a_phone_is_refused() {
        for raw in [
            "12ab",
            "123",
            "+28 1234 5678",
            "+1234567890123456",
            "++86138",
            "+",
            "",
        ] {
            assert_eq!(e164(raw, "86"), Err("invalid_phone".to_owned()), "{raw}");
        }
        assert_eq!(e164("020 1234 5678", "28"), Err("invalid_phone".to_owned()));
    }

    #[test]
    fn calling_codes_are_prefix_free_digits() {
        for a in CALLING_CODES {
            assert!(a.bytes().all(|b| b.is_ascii_digit()) && (1..=3).contains(&a.len()));
            for b in CALLING_CODES {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn international_numbers_split_at_their_code() {
        assert_eq!(
            split_calling_code("8613800138000"),
            Some(("86", "13800138000"))
        );
        assert_eq!(split_calling_code("14155550100"), Some(("1", "4155550100")));
        assert_eq!(split_calling_code("85291234567"), Some(("852", "91234567")));
        assert_eq!(split_calling_code("2812345678"), None, "28 is unassigned");
    }

    #[test]
    fn a_search_matches_the_number_with_or_without_its_country_code() {
        let local = search_forms("13800138000");
        for form in ["13800138000", "+8613800138000", "+113800138000"] {
            assert!(local.contains(&form.to_owned()), "{form}");
        }
        let international = search_forms("+8613800138000");
        for form in [
            "+8613800138000",
            "8613800138000",
            "008613800138000",
            "13800138000",
            "013800138000",
        ] {
            assert!(international.contains(&form.to_owned()), "{form}");
        }
        assert_eq!(international.len(), 5);
        assert!(search_forms("8613800138000").contains(&"+8613800138000".to_owned()));
        let dialled = search_forms("008613800138000");
        for form in ["+8613800138000", "13800138000"] {
            assert!(dialled.contains(&form.to_owned()), "{form}");
        }
        // A trunk 0 written locally is dropped behind a country code, and the other way.
        assert!(search_forms("07700900123").contains(&"+447700900123".to_owned()));
        assert!(search_forms("+447700900123").contains(&"07700900123".to_owned()));
    }

    #[test]
    fn a_number_that_only_shares_digits_is_not_a_form() {
        // "+86 139 1234 5678" is not "3912345678" behind a code "861" (there is none).
        assert!(!search_forms("3912345678").contains(&"+8613912345678".to_owned()));
        assert!(!search_forms("+8613912345678").contains(&"3912345678".to_owned()));
    }
}
