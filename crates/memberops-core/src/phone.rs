//! Phone look-ups across the two ways members write their number.
//!
//! Members register as "+86 138 0013 8000" or as "13800138000", and staff at a counter type
//! either. Both are stored as given (normalised by [`crate::member::normalize_phone`]); a
//! search tries the other form too. Country calling codes (ITU-T E.164) are prefix-free, so
//! a number with `+` splits into code and national number in at most one way.

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
