//! Journeys as the API takes and answers them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::campaigns::{GoalIn, MessageIn};

/// What makes a member enter.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerIn {
    /// `event` (an event of `event_type` whose properties meet `conditions`), `date` (a
    /// date attribute plus `offset_days`: `birthday`, `registered_at`, `first_order_at`),
    /// `points_expiring` (points expiring within `within_days`), `schedule` (every
    /// `day_of_month`: 会员日), `segment_entry` / `segment_exit` (members who entered or
    /// left `segment_id` since the last daily run).
    #[schema(example = "event")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "lifecycle.changed")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<PropCondIn>,
    /// `birthday`, `registered_at` or `first_order_at` (date triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// Days after the date (date triggers; 0 on the day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_days: Option<i64>,
    /// Points expiring within this many days (`points_expiring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<i64>,
    /// Day of the month, 1–28 (`schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<i64>,
    /// Local time of day members enter on the date (`HH:MM`, default 10:00), in each
    /// member's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Only members of this saved segment (date, points and schedule triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PropCondIn {
    /// A property of the event (`to`, `amount`, `a.b`).
    pub property: String,
    /// `eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `in`, `exists`.
    pub op: String,
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryIn {
    /// `once` (default), `once_per` (`days`), `every_time`.
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitIn {
    pub percent: i64,
    pub next: String,
}

/// One step. `type` says which fields it reads:
/// - `send`: `message` (channel, subject, body, locales, transactional);
/// - `coupon`: `template_id` or `pack_id`;
/// - `points`: `points`;
/// - `tag`: `add_tag` and/or `remove_tag`;
/// - `call_task`: `title`, `note`, `assignee` or `pool`, `window` (`HH:MM-HH:MM`), `days`
///   (due that many days later);
/// - `wait`: `days`/`hours`/`minutes`, or `until_time` (`HH:MM` in the member's zone), or
///   `event_type` with `days`/`hours` as the timeout and `timeout_next`;
/// - `branch`: `condition` (a segment condition tree), `yes`, `no`;
/// - `split`: `branches` (`percent`, `next`);
/// - `exit`.
///
/// `next` is the step after (none: the journey ends there).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepIn {
    pub id: String,
    #[serde(rename = "type")]
    #[schema(example = "send")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub condition: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<SplitIn>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = JourneyVariantIn)]
pub struct VariantIn {
    pub name: String,
    pub percent: i64,
    /// The step this variant's members start at.
    pub start: String,
}

/// Variants with split percentages and a holdout that receives nothing.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentIn {
    pub variants: Vec<VariantIn>,
    #[serde(default)]
    pub holdout_percent: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JourneyIn {
    pub name: String,
    pub trigger: TriggerIn,
    /// Default: once ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryIn>,
    /// The goal event: the member leaves the journey when it happens (the win-back stops
    /// when the member orders); conversions are counted within `within_days` of entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<GoalIn>,
    /// The first step.
    pub start: String,
    pub steps: Vec<StepIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentIn>,
}

/// Create from a shipped template: its key, with the ids the template needs.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromTemplateIn {
    pub template: String,
    /// A new name (default: the template's).
    #[serde(default)]
    pub name: Option<String>,
    /// Values for the template's parameters (`coupon_template_id`, `pack_id`,
    /// `call_pool`…), see `GET /v1/journeys/templates`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// A draft's new content, or a new version of an active journey.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JourneyPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub trigger: Option<TriggerIn>,
    #[serde(default)]
    pub entry: Option<EntryIn>,
    #[serde(default)]
    pub goal: Option<GoalIn>,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub steps: Option<Vec<StepIn>>,
    #[serde(default)]
    pub experiment: Option<ExperimentIn>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JourneyOut {
    pub id: String,
    pub name: String,
    /// `draft`, `active`, `paused` or `archived`.
    pub status: String,
    /// The version new entries follow (edits of an active journey make a new one;
    /// members already in keep theirs).
    pub version: i32,
    pub template: Option<String>,
    pub trigger: TriggerIn,
    pub entry: Option<EntryIn>,
    pub goal: Option<GoalIn>,
    pub start: String,
    pub steps: Vec<StepIn>,
    pub experiment: Option<ExperimentIn>,
    pub created_at: String,
    pub updated_at: String,
    pub activated_at: Option<String>,
}

/// Named apart from the coupon templates' schema in the OpenAPI document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = JourneyTemplateOut)]
pub struct TemplateOut {
    pub key: String,
    pub name: String,
    pub description: String,
    /// Parameters to give when creating from it (`params`).
    pub params: Vec<String>,
    pub journey: JourneyIn,
}

/// One step's numbers.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StepReport {
    pub step: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Times members reached it.
    pub reached: i64,
    /// Messages handed to the channel (send steps).
    pub sent: i64,
    /// Messages waiting for their time (quiet hours) or a retry.
    pub pending: i64,
    pub failed: i64,
    /// Messages held, by reason (`quiet_hours` counts messages moved, sent later).
    pub held: BTreeMap<String, i64>,
    /// Members at this step now (in a wait, or due).
    pub waiting: i64,
    /// Members whose journey ended here (exit step, end of the path, goal).
    pub exited: i64,
    /// Outcomes of the step (`issued`, `yes`, `no`, `timeout`, `event`, `skipped`…).
    pub outcomes: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpliftOut {
    pub diff: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupOut {
    /// A variant's name, `holdout`, or `all` without an experiment.
    pub group: String,
    pub members: i64,
    pub converted: i64,
    pub conversion_rate: f64,
    pub revenue_minor: i64,
    pub revenue_per_member_minor: f64,
    /// Against the holdout (null for the holdout itself or without one).
    pub conversion_uplift: Option<UpliftOut>,
    pub revenue_per_member_uplift: Option<UpliftOut>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JourneyReport {
    pub journey_id: String,
    pub status: String,
    /// Members who entered (holdout included).
    pub entered: i64,
    /// Members in the journey now.
    pub active: i64,
    /// Reached the end of their path.
    pub completed: i64,
    /// Left at an exit step (or when the journey was archived).
    pub exited: i64,
    /// Left when the goal event happened.
    pub converted: i64,
    /// The holdout (entered, received nothing).
    pub holdout: i64,
    pub steps: Vec<StepReport>,
    /// Conversion (the goal within its window after entry) and revenue per group.
    pub groups: Vec<GroupOut>,
}
