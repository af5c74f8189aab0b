//! Campaigns: the list, and a broadcast form that creates the campaign and schedules it
//! (launches it with its send time) in one step.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Days, NaiveDateTime};
use memberops_app::AppError;
use memberops_app::campaigns::{self, AudienceIn, CampaignIn, MessageIn, ScheduleIn};
use memberops_app::operators;
use memberops_app::segments::saved;
use memberops_core::time::now_millis;
use serde::{Deserialize, Serialize};

use crate::ConsoleState;
use crate::error::ConsoleResult;
use crate::gate::{Ctx, see_other};
use crate::i18n::Locale;
use crate::render;

const PAGE: i64 = 25;
/// Channels the form offers (`call` is a staff task, not a message).
const CHANNELS: [&str; 5] = ["email", "sms", "push", "wechat", "inapp"];

#[derive(Deserialize, Default)]
pub struct ListQuery {
    cursor: Option<String>,
    flash: Option<String>,
}

#[derive(Serialize)]
struct Row {
    name: String,
    channel: String,
    status: String,
    schedule: Option<String>,
    created_at: String,
}

/// `2026年12月8日 10:00（会员时区）` / `Dec 8, 2026 10:00 (member's zone)`.
fn schedule_text(s: &Option<ScheduleIn>, l: Locale) -> Option<String> {
    let s = s.as_ref()?;
    if let Some(local) = &s.local_at {
        let at = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
            .map(|t| format!("{} {}", l.date(t.date()), t.format("%H:%M")))
            .unwrap_or_else(|_| local.clone());
        let zone = if s.zone.as_deref() == Some("brand") {
            l.t("campaigns.zone_brand")
        } else {
            l.t("campaigns.zone_member")
        };
        return Some(format!("{at} ({zone})"));
    }
    s.at.clone()
}

pub async fn list(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> ConsoleResult<Html<String>> {
    let page = campaigns::list(
        state.store.as_ref(),
        &ctx.ws,
        q.cursor.as_deref().filter(|c| !c.is_empty()),
        Some(PAGE),
    )
    .await?;
    let rows: Vec<Row> = page
        .data
        .into_iter()
        .map(|c| Row {
            schedule: schedule_text(&c.schedule, ctx.locale),
            name: c.name,
            channel: c.message.channel,
            status: c.status,
            created_at: c.created_at,
        })
        .collect();
    render::page(
        "campaigns.html",
        &ctx,
        minijinja::context! {
            active => "campaigns",
            rows,
            next_href => super::next_href("/campaigns", &[], page.next_cursor.as_deref()),
            flash => q.flash.filter(|f| f == "campaign_scheduled"),
        },
    )
}

#[derive(Deserialize, Serialize, Default)]
pub struct CampaignForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    segment_id: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` input); empty: at once.
    #[serde(default)]
    local_at: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    idempotency_key: String,
}

async fn show_form(
    state: &ConsoleState,
    ctx: &Ctx,
    form: CampaignForm,
    problem: Option<String>,
) -> ConsoleResult<Html<String>> {
    let segments = saved::list(state.store.as_ref(), &ctx.ws).await?;
    render::page(
        "campaign_new.html",
        ctx,
        minijinja::context! {
            active => "campaigns",
            segments,
            channels => CHANNELS,
            idempotency_key => operators::random_token(),
            form,
            problem,
        },
    )
}

pub async fn form(State(state): State<ConsoleState>, ctx: Ctx) -> ConsoleResult<Html<String>> {
    // Tomorrow at 10:00, the brand's calendar.
    let tomorrow = memberops_app::analytics::reports::today(&ctx.ws) + Days::new(1);
    let defaults = CampaignForm {
        channel: "email".into(),
        local_at: format!("{}T10:00", tomorrow.format("%Y-%m-%d")),
        zone: "member".into(),
        ..CampaignForm::default()
    };
    show_form(&state, &ctx, defaults, None).await
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub async fn create(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Form(f): Form<CampaignForm>,
) -> ConsoleResult<Response> {
    let store = state.store.as_ref();
    let schedule = opt(&f.local_at).map(|local_at| ScheduleIn {
        at: None,
        local_at: Some(local_at),
        zone: Some(if f.zone == "brand" { "brand" } else { "member" }.into()),
    });
    let input = CampaignIn {
        name: f.name.trim().to_owned(),
        kind: "broadcast".into(),
        audience: AudienceIn {
            segment_id: f.segment_id.clone(),
        },
        message: MessageIn {
            channel: f.channel.clone(),
            subject: opt(&f.subject),
            body: f.body.clone(),
            locales: Default::default(),
            transactional: false,
        },
        schedule,
        goal: None,
        idempotency_key: opt(&f.idempotency_key).map(|k| format!("console:{k}")),
    };
    let now = now_millis();
    let launched = match campaigns::create(store, &ctx.ws, input, now).await {
        Ok((c, _)) => campaigns::launch(store, &state.segments, &ctx.ws, &c.id, now).await,
        Err(e) => Err(e),
    };
    match launched {
        Ok(_) => Ok(see_other("/campaigns?flash=campaign_scheduled")),
        Err(e @ (AppError::Invalid(_) | AppError::Unprocessable { .. })) => {
            let problem = match &e {
                AppError::Invalid(i) => {
                    i.0.iter()
                        .map(|f| format!("{}: {}", f.loc.join("."), f.msg))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
                e => e.to_string(),
            };
            let page = show_form(&state, &ctx, f, Some(problem)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
