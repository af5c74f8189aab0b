//! Campaigns and journeys for MemberOps: who receives what, when, on which channel, and
//! whether a delivery rule (consent, quiet hours, frequency caps) holds a message back.
//!
//! Pure domain code: plain data in, decisions out. Sending happens in `memberops-app`
//! through the outbox; nothing here touches a database or the network.
//!
//! - [`rules`]: consent, unsubscribes, addresses, quiet hours and send windows in the
//!   member's zone, frequency caps ([`rules::decide`]).
//! - [`schedule`]: when a broadcast reaches each member (now, at an instant, or at a local
//!   time in the member's or the brand's zone).
//! - [`template`]: subjects and bodies as minijinja templates, without file or network
//!   access and with a fuel limit, per locale.
//! - [`spec`]: a campaign as the API takes it, validated with the path of each problem.

pub mod journey;
pub mod rules;
pub mod schedule;
pub mod spec;
pub mod template;

use serde::{Deserialize, Serialize};

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
    Wechat,
    /// The member center's inbox.
    Inapp,
    /// A staff call task (回访).
    Call,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Email,
        Channel::Sms,
        Channel::Push,
        Channel::Wechat,
        Channel::Inapp,
        Channel::Call,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Wechat => "wechat",
            Channel::Inapp => "inapp",
            Channel::Call => "call",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The profile's consent key for this channel (`memberops_core::member::CONSENT_CHANNELS`).
    pub const fn consent_key(self) -> &'static str {
        match self {
            Channel::Call => "phone",
            c => c.as_str(),
        }
    }

    /// Sent through the provider webhook (a gateway adapter for SMS, push, WeChat).
    pub const fn via_provider(self) -> bool {
        matches!(self, Channel::Sms | Channel::Push | Channel::Wechat)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
