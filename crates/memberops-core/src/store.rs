//! Stores (门店) and staff (导购): their codes and statuses, and the rules that decide a
//! member's home store and owning staff member.
//!
//! Codes are the brand's own (`SH-001`, `g.wang`) and never change once created, so
//! members, orders, segments and reports refer to stores and staff by code.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Invalid};

/// The longest code accepted.
pub const MAX_CODE: usize = 64;

/// A store or staff code: 1–64 characters of letters, digits, `-`, `_` and `.`, so it
/// reads the same in a CSV column, a URL path and a segment condition.
pub fn parse_code(raw: &str, loc: &[&str]) -> Result<String, Invalid> {
    let code = raw.trim();
    let ok = !code.is_empty()
        && code.len() <= MAX_CODE
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(code.to_owned())
    } else {
        Err(Invalid::one(
            loc,
            "invalid_code",
            "a code is 1–64 letters, digits, `-`, `_` or `.`",
        ))
    }
}

/// A name shown to operators: 1–200 characters after trimming.
pub fn parse_name(raw: &str, loc: &[&str]) -> Result<String, Invalid> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Invalid::one(
            loc,
            "invalid_name",
            "a name is 1–200 characters",
        ));
    }
    Ok(name.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "active" => Some(Status::Active),
            "inactive" => Some(Status::Inactive),
            _ => None,
        }
    }
}

/// A staff member as the assignment rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffFacts {
    pub code: String,
    pub store_code: Option<String>,
    pub status: Status,
}

/// A store as the assignment rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFacts {
    pub code: String,
    pub status: Status,
}

/// A member's home store and owning staff member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub store_code: Option<String>,
    pub staff_code: Option<String>,
}

/// A change an operator asks for: absent fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentPatch {
    pub store_code: Option<Option<String>>,
    pub staff_code: Option<Option<String>>,
}

impl AssignmentPatch {
    pub fn is_empty(&self) -> bool {
        self.store_code.is_none() && self.staff_code.is_none()
    }
}

/// Applies an operator's change to a member's assignment, checking it against the stores
/// and staff the workspace has (`store`, `staff`: what the patch's codes name, if found).
///
/// - A code that names no store or staff member is refused (`unknown_store`,
///   `unknown_staff`), as is an inactive one (`inactive_store`, `inactive_staff`): new
///   members are not handed to someone who left.
/// - Setting a staff member without saying which store makes the staff member's store the
///   home store (the 导购 serves the member from there).
pub fn apply_patch(
    current: &Assignment,
    patch: &AssignmentPatch,
    store: Option<&StoreFacts>,
    staff: Option<&StaffFacts>,
) -> Result<Assignment, Invalid> {
    let mut errs = Vec::new();
    let mut next = current.clone();
    if let Some(Some(code)) = &patch.store_code {
        match store {
            None => errs.push(FieldError::new(
                &["body", "store_code"],
                "unknown_store",
                format!("no store `{code}`"),
            )),
            Some(s) if s.status == Status::Inactive => errs.push(FieldError::new(
                &["body", "store_code"],
                "inactive_store",
                format!("store `{code}` is inactive"),
            )),
            Some(_) => {}
        }
    }
    if let Some(Some(code)) = &patch.staff_code {
        match staff {
            None => errs.push(FieldError::new(
                &["body", "staff_code"],
                "unknown_staff",
                format!("no staff member `{code}`"),
            )),
            Some(s) if s.status == Status::Inactive => errs.push(FieldError::new(
                &["body", "staff_code"],
                "inactive_staff",
                format!("staff member `{code}` is inactive"),
            )),
            Some(_) => {}
        }
    }
    if !errs.is_empty() {
        return Err(Invalid(errs));
    }
    if let Some(s) = &patch.store_code {
        next.store_code = s.clone();
    }
    if let Some(s) = &patch.staff_code {
        next.staff_code = s.clone();
        if patch.store_code.is_none()
            && let Some(home) = staff.and_then(|f| f.store_code.clone())
        {
            next.store_code = Some(home);
        }
    }
    Ok(next)
}

/// What a registration event's properties say (`store_code`, `staff_code`): codes as
/// given, since a POS may register members at a store the workspace does not list yet;
/// a malformed code is left out rather than failing the registration.
pub fn from_properties(props: &serde_json::Map<String, serde_json::Value>) -> Assignment {
    let code = |k: &str| {
        props
            .get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| parse_code(s, &[k]).ok())
    };
    Assignment {
        store_code: code("store_code"),
        staff_code: code("staff_code"),
    }
}

/// Checks a bulk reassignment: the receiving staff member exists, is active and is not
/// the one whose members move.
pub fn check_reassign(from: &str, to: Option<&StaffFacts>, to_code: &str) -> Result<(), Invalid> {
    let loc = &["body", "to_staff"];
    match to {
        None => Err(Invalid::one(
            loc,
            "unknown_staff",
            format!("no staff member `{to_code}`"),
        )),
        Some(s) if s.code == from => Err(Invalid::one(
            loc,
            "same_staff",
            "members cannot be reassigned to the staff member they belong to",
        )),
        Some(s) if s.status == Status::Inactive => Err(Invalid::one(
            loc,
            "inactive_staff",
            format!("staff member `{to_code}` is inactive"),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(code: &str, store: Option<&str>, status: Status) -> StaffFacts {
        StaffFacts {
            code: code.into(),
            store_code: store.map(Into::into),
            status,
        }
    }

    #[test]
    fn codes_are_trimmed_and_limited() {
        assert_eq!(parse_code(" SH-001 ", &["c"]).expect("ok"), "SH-001");
        assert_eq!(parse_code("g.wang_2", &["c"]).expect("ok"), "g.wang_2");
        for bad in ["", "  ", "a b", "门店", "a/b", &"x".repeat(65)] {
            assert_eq!(
                parse_code(bad, &["c"]).expect_err(bad).code(),
                "invalid_code"
            );
        }
    }

    #[test]
    fn staff_without_store_brings_their_store() {
        let s = staff("g1", Some("S1"), Status::Active);
        let patch = AssignmentPatch {
            store_code: None,
            staff_code: Some(Some("g1".into())),
        };
        let got = apply_patch(&Assignment::default(), &patch, None, Some(&s)).expect("ok");
        assert_eq!(got.store_code.as_deref(), Some("S1"));
        assert_eq!(got.staff_code.as_deref(), Some("g1"));
        // An explicit store wins over the staff member's.
        let store = StoreFacts {
            code: "S2".into(),
            status: Status::Active,
        };
        let patch = AssignmentPatch {
            store_code: Some(Some("S2".into())),
            staff_code: Some(Some("g1".into())),
        };
        let got = apply_patch(&Assignment::default(), &patch, Some(&store), Some(&s)).expect("ok");
        assert_eq!(got.store_code.as_deref(), Some("S2"));
    }

    #[test]
    fn unknown_and_inactive_are_refused_and_null_clears() {
        let patch = AssignmentPatch {
            store_code: Some(Some("nope".into())),
            staff_code: Some(Some("gone".into())),
        };
        let gone = staff("gone", None, Status::Inactive);
        let err = apply_patch(&Assignment::default(), &patch, None, Some(&gone)).expect_err("bad");
        let codes: Vec<&str> = err.0.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["unknown_store", "inactive_staff"]);

        let current = Assignment {
            store_code: Some("S1".into()),
            staff_code: Some("g1".into()),
        };
        let clear = AssignmentPatch {
            store_code: None,
            staff_code: Some(None),
        };
        let got = apply_patch(&current, &clear, None, None).expect("ok");
        assert_eq!(got.store_code.as_deref(), Some("S1"));
        assert_eq!(got.staff_code, None);
    }

    #[test]
    fn reassign_needs_another_active_staff_member() {
        let active = staff("g2", None, Status::Active);
        assert!(check_reassign("g1", Some(&active), "g2").is_ok());
        assert_eq!(
            check_reassign("g2", Some(&active), "g2")
                .expect_err("same")
                .code(),
            "same_staff"
        );
        let left = staff("g1", None, Status::Inactive);
        assert_eq!(
            check_reassign("g1", Some(&left), "g1")
                .expect_err("same")
                .code(),
            "same_staff"
        );
        let off = staff("g3", None, Status::Inactive);
        assert_eq!(
            check_reassign("g1", Some(&off), "g3")
                .expect_err("off")
                .code(),
            "inactive_staff"
        );
        assert_eq!(
            check_reassign("g1", None, "g9").expect_err("none").code(),
            "unknown_staff"
        );
    }

    #[test]
    fn registration_properties_keep_well_formed_codes() {
        let props = serde_json::json!({"store_code": "S1", "staff_code": "bad code"});
        let got = from_properties(props.as_object().expect("object"));
        assert_eq!(got.store_code.as_deref(), Some("S1"));
        assert_eq!(got.staff_code, None);
    }
}
