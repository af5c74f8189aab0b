//! What a template sees of a member, and which locale's variant a member gets.

use std::collections::BTreeMap;

use memberops_campaigns::Channel;
use memberops_campaigns::spec::{Message, Variant};
use memberops_campaigns::template::{CouponVars, MemberVars, PointsVars, Vars};
use memberops_core::member::Member;
use memberops_core::time::millis_to_rfc3339;
use memberops_store::Store;

use crate::error::Result;
use crate::workspace::Workspace;

/// The member facts sending needs.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub id: String,
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub time_zone: String,
    pub consent: BTreeMap<String, bool>,
    /// The `locale` attribute (`zh-CN`, `en`).
    pub locale: Option<String>,
}

impl Facts {
    pub fn of(m: &Member) -> Facts {
        Facts {
            id: m.id.clone(),
            external_id: m.external_id.clone(),
            name: m.name.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            time_zone: m.time_zone.clone(),
            consent: m.consent.clone(),
            locale: m
                .attributes
                .get("locale")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        }
    }

    /// Where a message on `channel` goes: the email, the phone (SMS, WeChat template
    /// messages are keyed by the member's phone-bound account at the gateway), or the
    /// member itself (push, inbox).
    pub fn address(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::Email => self.email.as_deref(),
            Channel::Sms | Channel::Call => self.phone.as_deref(),
            Channel::Push | Channel::Wechat | Channel::Inapp => Some(self.id.as_str()),
        }
    }
}

/// The variant for a locale, and the locale it was written for (None: the default).
pub(crate) fn pick<'a>(m: &'a Message, locale: Option<&str>) -> (Option<String>, &'a Variant) {
    let v = m.variant(locale);
    let which = m
        .locales
        .iter()
        .find(|(_, x)| std::ptr::eq(*x, v))
        .map(|(k, _)| k.clone());
    (which, v)
}

/// Name, tier, points and newest usable coupon of the member.
pub(crate) async fn vars(
    store: &dyn Store,
    ws: &Workspace,
    f: &Facts,
    unsubscribe_url: String,
) -> Result<Vars> {
    let loyalty = store.loyalty_member(&ws.id, &f.id).await?;
    let now = memberops_core::time::now_millis();
    let coupon = store
        .member_coupons(&ws.id, &f.id)
        .await?
        .into_iter()
        .filter(|c| c.status == "issued" && c.valid_to.is_none_or(|t| t > now))
        .max_by_key(|c| c.issued_at);
    Ok(Vars {
        member: MemberVars {
            name: f.name.clone().unwrap_or_default(),
            external_id: f.external_id.clone(),
            tier: loyalty.as_ref().map(|l| l.tier.clone()).unwrap_or_default(),
        },
        points: PointsVars {
            balance: loyalty.as_ref().map_or(0, |l| l.points_balance),
        },
        coupon: coupon.map_or_else(CouponVars::default, |c| CouponVars {
            code: c.code.unwrap_or(c.id),
            expires_at: c.valid_to.map(millis_to_rfc3339).unwrap_or_default(),
        }),
        unsubscribe_url,
    })
}
