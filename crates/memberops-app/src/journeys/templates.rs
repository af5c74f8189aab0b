//! The shipped journeys, each a working journey an operator copies (`GET
//! /v1/journeys/templates`, `POST /v1/journeys:from-template`): new-member welcome with
//! the gift pack, the 333 follow-up, birthday, silent-member reactivation, churn win-back,
//! points-expiry reminder, tier-upgrade congratulation.
//!
//! Parameters fill what differs per brand: the coupon template or gift pack, the staff
//! pool that calls, the channel (default `sms`).

use std::collections::BTreeMap;

use memberops_core::Invalid;
use serde_json::{Value, json};

use super::dto::{JourneyIn, TemplateOut};
use crate::error::Result;

/// A parameter's value by name.
type Param<'a> = &'a dyn Fn(&str) -> String;

struct Def {
    key: &'static str,
    name: &'static str,
    description: &'static str,
    /// Required parameters (besides the optional `channel`).
    params: &'static [&'static str],
    build: fn(Param<'_>) -> Value,
}

fn send(id: &str, ch: &str, subject: &str, body: &str, next: Option<&str>) -> Value {
    let mut s = json!({"id": id, "type": "send",
        "message": {"channel": ch, "subject": subject, "body": body}});
    if let Some(n) = next {
        s["next"] = json!(n);
    }
    s
}

fn wait_days(id: &str, days: i64, next: &str) -> Value {
    json!({"id": id, "type": "wait", "days": days, "next": next})
}

const UNSUB: &str = "退订：{{ unsubscribe_url }}";

const DEFS: &[Def] = &[
    Def {
        key: "new_member_welcome",
        name: "新人礼包欢迎",
        description: "On registration: the new-member gift pack at once, a welcome message, and \
                      after 3 days a reminder to members who have not ordered yet.",
        params: &["pack_id"],
        build: |p| {
            let ch = p("channel");
            json!({"name": "新人礼包欢迎",
            "trigger": {"kind": "event", "event_type": "member.registered"},
            "entry": {"mode": "once"},
            "goal": {"event_type": "order.paid", "within_days": 14},
            "start": "gift",
            "steps": [
                {"id": "gift", "type": "coupon", "pack_id": p("pack_id"), "next": "welcome"},
                send("welcome", &ch, "欢迎加入", &format!("{{{{ member.name }}}}，欢迎加入！新人礼包已放入您的账户，券码 {{{{ coupon.code }}}}。{UNSUB}"), Some("wait3d")),
                wait_days("wait3d", 3, "ordered"),
                {"id": "ordered", "type": "branch", "condition": {"field": "orders", "op": "gte", "value": 1},
                 "yes": "done", "no": "nudge"},
                send("nudge", &ch, "新人礼包提醒", &format!("{{{{ member.name }}}}，您的新人礼包还没用哦，券码 {{{{ coupon.code }}}}。{UNSUB}"), None),
                {"id": "done", "type": "exit"}
            ]})
        },
    },
    Def {
        key: "follow_up_333",
        name: "333 回访",
        description: "After a member's first purchase: a staff call 3 days later, a message after 3 \
                      weeks, and a call and message after 3 months.",
        params: &["call_pool"],
        build: |p| {
            let ch = p("channel");
            json!({"name": "333 回访",
            "trigger": {"kind": "event", "event_type": "order.paid"},
            "entry": {"mode": "once"},
            "start": "first",
            "steps": [
                {"id": "first", "type": "branch", "condition": {"field": "orders", "op": "lte", "value": 1},
                 "yes": "wait3d", "no": "not_first"},
                {"id": "not_first", "type": "exit"},
                wait_days("wait3d", 3, "call3d"),
                {"id": "call3d", "type": "call_task", "title": "3天回访：使用体验", "pool": p("call_pool"),
                 "window": "11:00-17:00", "next": "msg3d"},
                send("msg3d", &ch, "使用体验", &format!("{{{{ member.name }}}}，商品用得还顺手吗？有问题随时联系我们。{UNSUB}"), Some("wait3w")),
                wait_days("wait3w", 18, "msg3w"),
                send("msg3w", &ch, "三周关怀", &format!("{{{{ member.name }}}}，三周了，给您准备了搭配推荐。{UNSUB}"), Some("wait3m")),
                wait_days("wait3m", 69, "call3m"),
                {"id": "call3m", "type": "call_task", "title": "3个月回访：复购", "pool": p("call_pool"),
                 "window": "11:00-17:00", "next": "msg3m"},
                send("msg3m", &ch, "三个月回访", &format!("{{{{ member.name }}}}，感谢三个月的陪伴，您有 {{{{ points.balance }}}} 积分可用。{UNSUB}"), None)
            ]})
        },
    },
    Def {
        key: "birthday",
        name: "生日关怀",
        description: "On the member's birthday at 10:00 in their zone: the birthday coupon and a \
                      greeting.",
        params: &["coupon_template_id"],
        build: |p| {
            let ch = p("channel");
            json!({"name": "生日关怀",
            "trigger": {"kind": "date", "attribute": "birthday", "offset_days": 0, "at": "10:00"},
            "entry": {"mode": "once_per", "days": 300},
            "goal": {"event_type": "order.paid", "within_days": 14},
            "start": "gift",
            "steps": [
                {"id": "gift", "type": "coupon", "template_id": p("coupon_template_id"), "next": "greet"},
                send("greet", &ch, "生日快乐", &format!("{{{{ member.name }}}}，生日快乐！生日券 {{{{ coupon.code }}}} 已到账。{UNSUB}"), None)
            ]})
        },
    },
    Def {
        key: "silent_reactivation",
        name: "沉默会员唤醒",
        description: "When a member turns silent: a big coupon and a message; if no order within 7 \
                      days, a reminder. Ends when the member orders.",
        params: &["coupon_template_id"],
        build: |p| {
            let ch = p("channel");
            json!({"name": "沉默会员唤醒",
            "trigger": {"kind": "event", "event_type": "lifecycle.changed",
                        "conditions": [{"property": "to", "op": "eq", "value": "silent"}]},
            "entry": {"mode": "once_per", "days": 90},
            "goal": {"event_type": "order.paid", "within_days": 30},
            "start": "coupon",
            "steps": [
                {"id": "coupon", "type": "coupon", "template_id": p("coupon_template_id"), "next": "offer"},
                send("offer", &ch, "好久不见", &format!("{{{{ member.name }}}}，好久不见！送您一张大额券 {{{{ coupon.code }}}}。{UNSUB}"), Some("wait_order")),
                {"id": "wait_order", "type": "wait", "event_type": "order.paid", "days": 7,
                 "timeout_next": "reminder"},
                send("reminder", &ch, "券快过期了", &format!("{{{{ member.name }}}}，您的券 {{{{ coupon.code }}}} 快过期了。{UNSUB}"), None)
            ]})
        },
    },
    Def {
        key: "churn_winback",
        name: "流失挽回",
        description: "When a member is churned: a win-back coupon and message, a reminder after 7 \
                      days, a last call after 14. Stops when the member orders.",
        params: &["coupon_template_id"],
        build: |p| {
            let ch = p("channel");
            json!({"name": "流失挽回",
            "trigger": {"kind": "event", "event_type": "lifecycle.changed",
                        "conditions": [{"property": "to", "op": "eq", "value": "churned"}]},
            "entry": {"mode": "once_per", "days": 180},
            "goal": {"event_type": "order.paid", "within_days": 30},
            "start": "coupon",
            "steps": [
                {"id": "coupon", "type": "coupon", "template_id": p("coupon_template_id"), "next": "offer"},
                send("offer", &ch, "我们想您了", &format!("{{{{ member.name }}}}，我们想您了，回归券 {{{{ coupon.code }}}} 已到账。{UNSUB}"), Some("wait7")),
                wait_days("wait7", 7, "reminder"),
                send("reminder", &ch, "回归券提醒", &format!("{{{{ member.name }}}}，回归券还在等您。{UNSUB}"), Some("wait14")),
                wait_days("wait14", 7, "last"),
                send("last", &ch, "最后的提醒", &format!("{{{{ member.name }}}}，回归券明天过期。{UNSUB}"), None)
            ]})
        },
    },
    Def {
        key: "points_expiry_reminder",
        name: "积分过期提醒",
        description: "Members with points expiring within 30 days get a reminder, at most once in \
                      30 days.",
        params: &[],
        build: |p| {
            let ch = p("channel");
            json!({"name": "积分过期提醒",
            "trigger": {"kind": "points_expiring", "within_days": 30, "at": "10:00"},
            "entry": {"mode": "once_per", "days": 30},
            "goal": {"event_type": "order.paid", "within_days": 30},
            "start": "remind",
            "steps": [
                send("remind", &ch, "积分即将过期", &format!("{{{{ member.name }}}}，您有积分即将过期，当前积分 {{{{ points.balance }}}}，快去积分商城兑换吧。{UNSUB}"), None)
            ]})
        },
    },
    Def {
        key: "tier_upgrade",
        name: "升级祝贺",
        description: "When a member's tier goes up: a congratulation with the new tier and bonus \
                      points.",
        params: &[],
        build: |p| {
            let ch = p("channel");
            json!({"name": "升级祝贺",
            "trigger": {"kind": "event", "event_type": "tier.changed",
                        "conditions": [{"property": "kind", "op": "eq", "value": "upgrade"}]},
            "entry": {"mode": "every_time"},
            "start": "bonus",
            "steps": [
                {"id": "bonus", "type": "points", "points": 100, "next": "congrats"},
                send("congrats", &ch, "恭喜升级", &format!("{{{{ member.name }}}}，恭喜升级为{{{{ member.tier }}}}会员！100 积分已到账。{UNSUB}"), None)
            ]})
        },
    },
];

fn build(d: &Def, params: &BTreeMap<String, String>) -> Result<JourneyIn> {
    let get = |k: &str| -> String {
        params.get(k).cloned().unwrap_or_else(|| {
            if k == "channel" {
                "sms".into()
            } else {
                String::new()
            }
        })
    };
    let v = (d.build)(&get);
    serde_json::from_value(v).map_err(|e| {
        crate::AppError::Store(memberops_store::StoreError::Corrupt(format!(
            "template {}: {e}",
            d.key
        )))
    })
}

/// Every shipped template (with placeholder parameters shown as `<name>`).
pub fn all() -> Vec<TemplateOut> {
    DEFS.iter()
        .filter_map(|d| {
            let shown: BTreeMap<String, String> = d
                .params
                .iter()
                .map(|p| ((*p).to_owned(), format!("<{p}>")))
                .collect();
            Some(TemplateOut {
                key: d.key.to_owned(),
                name: d.name.to_owned(),
                description: d.description.to_owned(),
                params: d
                    .params
                    .iter()
                    .map(|p| (*p).to_owned())
                    .chain(["channel".to_owned()])
                    .collect(),
                journey: build(d, &shown).ok()?,
            })
        })
        .collect()
}

/// The journey of template `key` with `params` filled in. A missing parameter or unknown
/// template is 422.
pub fn instantiate(key: &str, params: &BTreeMap<String, String>) -> Result<JourneyIn> {
    let Some(d) = DEFS.iter().find(|d| d.key == key) else {
        let keys: Vec<&str> = DEFS.iter().map(|d| d.key).collect();
        return Err(Invalid::one(
            &["body", "template"],
            "unknown_template",
            format!("templates are {}", keys.join(", ")),
        )
        .into());
    };
    for k in params.keys() {
        if k != "channel" && !d.params.contains(&k.as_str()) {
            return Err(Invalid::one(
                &["body", "params", k.as_str()],
                "unknown_param",
                format!("{key} takes {}, channel", d.params.join(", ")),
            )
            .into());
        }
    }
    // Unit tests fill every parameter; the API asks for the required ones.
    build(d, params)
}

/// The required parameters `params` lacks, as field errors.
pub fn missing(key: &str, params: &BTreeMap<String, String>) -> Option<Invalid> {
    let d = DEFS.iter().find(|d| d.key == key)?;
    let errs: Vec<_> = d
        .params
        .iter()
        .filter(|p| params.get(**p).is_none_or(|v| v.trim().is_empty()))
        .map(|p| {
            memberops_core::error::FieldError::new(
                &["body", "params", *p],
                "required",
                format!("the {key} template needs `{p}`"),
            )
        })
        .collect();
    (!errs.is_empty()).then_some(Invalid(errs))
}

/// The templates a page at a time, by key order as shipped (`cursor`: the last key seen).
pub fn page(cursor: Option<&str>, limit: Option<i64>) -> Result<crate::lists::Page<TemplateOut>> {
    let limit = usize::try_from(crate::members::page_limit(limit)?).unwrap_or(50);
    let all = all();
    let from = match cursor {
        None => 0,
        Some(c) => all
            .iter()
            .position(|t| t.key == c)
            .map(|i| i + 1)
            .ok_or_else(crate::lists::invalid_cursor)?,
    };
    let rest: Vec<TemplateOut> = all.into_iter().skip(from).collect();
    let more = rest.len() > limit;
    let data: Vec<TemplateOut> = rest.into_iter().take(limit).collect();
    let next = more.then(|| data.last().map(|t| t.key.clone())).flatten();
    Ok(crate::lists::Page::new(data, next))
}
