//! Subjects and bodies as minijinja templates.
//!
//! The environment has no loader (no `include` or `import` reaches a file or the
//! network), a fuel limit (a loop cannot run away), and strict undefined values: a
//! misspelt variable fails to render instead of sending an empty greeting, so a preview
//! on a chosen member shows the mistake before anyone receives it.
//!
//! Variables: `member.name`, `member.external_id`, `member.tier`, `points.balance`,
//! `coupon.code`, `coupon.expires_at`, `unsubscribe_url`.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Instructions a render may spend: thousands of loop iterations, far more than a message.
pub const FUEL: u64 = 100_000;
/// Longest template source.
pub const MAX_SOURCE: usize = 64 * 1024;

#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberVars {
    pub name: String,
    pub external_id: String,
    pub tier: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PointsVars {
    pub balance: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CouponVars {
    pub code: String,
    /// RFC 3339, or empty without a coupon.
    pub expires_at: String,
}

/// What a template sees.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vars {
    pub member: MemberVars,
    pub points: PointsVars,
    pub coupon: CouponVars,
    pub unsubscribe_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct TemplateError {
    pub msg: String,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(20);
    env
}

/// Whether `source` is a template (its syntax; variables are checked when rendering).
pub fn check(source: &str) -> Result<(), TemplateError> {
    if source.len() > MAX_SOURCE {
        return Err(TemplateError {
            msg: format!("templates are at most {MAX_SOURCE} bytes"),
        });
    }
    env()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| TemplateError { msg: describe(&e) })
}

/// Renders `source` with `vars`.
pub fn render(source: &str, vars: &Vars) -> Result<String, TemplateError> {
    check(source)?;
    env()
        .render_str(source, vars)
        .map_err(|e| TemplateError { msg: describe(&e) })
}

fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(l) => format!("{} (line {l})", e.detail().unwrap_or(&e.kind().to_string())),
        None => e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            member: MemberVars {
                name: "李雷".into(),
                external_id: "u1".into(),
                tier: "gold".into(),
            },
            points: PointsVars { balance: 1280 },
            coupon: CouponVars {
                code: "SAVE-20".into(),
                expires_at: "2026-12-31T15:59:59.999Z".into(),
            },
            unsubscribe_url: "https://crm.example/u/tok".into(),
        }
    }

    #[test]
    fn renders_the_members_variables() {
        let out = render(
            "{{ member.name }}，您是{{ member.tier }}会员，积分{{ points.balance }}，券{{ coupon.code }} {{ unsubscribe_url }}",
            &vars(),
        )
        .expect("render");
        assert_eq!(
            out,
            "李雷，您是gold会员，积分1280，券SAVE-20 https://crm.example/u/tok"
        );
    }

    #[test]
    fn a_misspelt_variable_or_bad_syntax_is_an_error() {
        assert!(render("Hi {{ memer.name }}", &vars()).is_err());
        assert!(check("Hi {{ member.name ").is_err());
        // No loader: an include or import reads nothing.
        assert!(render("{% include 'x.html' %}", &vars()).is_err());
        assert!(render("{% import '/etc/passwd' as p %}", &vars()).is_err());
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let e = render(
            "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
            &vars(),
        );
        assert!(e.is_err(), "{e:?}");
    }
}
