//! Campaigns as the API takes and answers them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct AudienceIn {
    /// A saved segment (`GET /v1/segments`); its members when the campaign is launched.
    pub segment_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct VariantIn {
    /// A template (needed for email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A template.
    pub body: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct MessageIn {
    /// `email`, `sms`, `push`, `wechat` or `inapp` (the member-center inbox).
    #[schema(example = "email")]
    pub channel: String,
    /// A minijinja template: `{{ member.name }}`, `{{ member.tier }}`,
    /// `{{ points.balance }}`, `{{ coupon.code }}`, `{{ coupon.expires_at }}`,
    /// `{{ unsubscribe_url }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "{{ member.name }}，您的积分")]
    pub subject: Option<String>,
    #[schema(example = "您有 {{ points.balance }} 积分。退订：{{ unsubscribe_url }}")]
    pub body: String,
    /// Variants per locale (`zh-CN`, `en`…), picked by the member's `locale` attribute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locales: BTreeMap<String, VariantIn>,
    /// Transactional messages skip quiet hours and frequency caps (consent still applies).
    #[serde(default)]
    pub transactional: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ScheduleIn {
    /// Send at this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Or at this wall-clock time (`2026-12-08T10:00`) in each member's zone or the
    /// brand's (`zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_at: Option<String>,
    /// `member` (default) or `brand`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct GoalIn {
    #[schema(example = "order.paid")]
    pub event_type: String,
    #[schema(example = 7)]
    pub within_days: i64,
}

fn broadcast() -> String {
    "broadcast".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CampaignIn {
    pub name: String,
    /// `broadcast`.
    #[serde(default = "broadcast")]
    pub kind: String,
    pub audience: AudienceIn,
    pub message: MessageIn,
    /// Null or absent: at launch.
    #[serde(default)]
    pub schedule: Option<ScheduleIn>,
    #[serde(default)]
    pub goal: Option<GoalIn>,
    /// Sending the same key again returns the first campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignOut {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// `draft`, `running`, `paused` or `cancelled`.
    pub status: String,
    pub audience: AudienceIn,
    pub message: MessageIn,
    pub schedule: Option<ScheduleIn>,
    pub goal: Option<GoalIn>,
    pub created_at: String,
    pub updated_at: String,
    pub launched_at: Option<String>,
}

/// Messages held back, by reason. `quiet_hours` counts messages moved to the member's next
/// open time (sent then, unless another rule holds them); the others are never sent.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct HeldOut {
    pub no_consent: i64,
    pub quiet_hours: i64,
    pub frequency_cap: i64,
    pub unsubscribed: i64,
    pub no_address: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportOut {
    pub campaign_id: String,
    pub status: String,
    /// Members the campaign was planned for (one message each).
    pub audience: i64,
    /// Waiting for their time (or a retry).
    pub pending: i64,
    /// Handed to the channel (delivered included).
    pub sent: i64,
    /// Confirmed by the channel.
    pub delivered: i64,
    /// Given up after the last attempt, or refused by the channel.
    pub failed: i64,
    pub cancelled: i64,
    pub held: HeldOut,
    /// Members with the goal event within the goal window after their message.
    pub converted: i64,
    /// Net amounts of those goal events (orders), minor units.
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = CampaignPreviewIn)]
pub struct PreviewIn {
    /// A member's id or external id.
    pub member: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewOut {
    pub member_id: String,
    pub channel: String,
    /// The locale whose variant was used (null: the default).
    pub locale: Option<String>,
    /// The address it would go to (email, phone, or the member id for the inbox).
    pub to: Option<String>,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LaunchOut {
    pub campaign: CampaignOut,
    /// Messages planned by this launch (0 when it was launched before).
    pub planned: u64,
}
