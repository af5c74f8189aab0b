//! Predicted member value (docs/predicted-value.md): fits BG/NBD and Gamma-Gamma
//! (`memberops_analytics::clv`) on the member base as of a date and scores every member with
//! an order by then; the daily job (and `POST /v1/predicted-value:refresh`) stores the
//! scores for the member view and segment fields; `memberops report clv` prints them.

use chrono::NaiveDate;
use memberops_analytics::clv::{self, ClvError, Model, Summary};
use memberops_core::time::Millis;
use memberops_store::{ClvFitRow, PredictionRow, Store};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::workspace::Workspace;

/// The fit of a date and every member's predictions.
#[derive(Debug, Clone)]
pub struct ClvRun {
    pub as_of: NaiveDate,
    pub model: Model,
    /// Members with an order by as-of, and those with a repeat order day.
    pub members: i64,
    pub repeat_members: i64,
    /// One per member with an order by as-of, by member id (`mbr_…`); money rounded to
    /// minor units.
    pub rows: Vec<PredictionRow>,
}

/// What a refresh did, as the job and the API report it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefreshReport {
    /// The as-of date (`YYYY-MM-DD`) of the fit.
    pub as_of: String,
    /// Members scored (with an order by as-of).
    pub members: i64,
    /// Members with a repeat order day (the Gamma-Gamma base).
    pub repeat_members: i64,
    pub params: ModelParams,
}

/// Fitted parameters: BG/NBD `r`, `alpha` (days), `a`, `b`; Gamma-Gamma `p`, `q` and
/// `v_minor` (minor units).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ModelParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub p: f64,
    pub q: f64,
    pub v_minor: f64,
}

impl From<&Model> for ModelParams {
    fn from(m: &Model) -> Self {
        ModelParams {
            r: m.bg_nbd.r,
            alpha: m.bg_nbd.alpha,
            a: m.bg_nbd.a,
            b: m.bg_nbd.b,
            p: m.gamma_gamma.p,
            q: m.gamma_gamma.q,
            v_minor: m.gamma_gamma.v,
        }
    }
}

fn model_error(e: ClvError) -> AppError {
    AppError::Unprocessable {
        code: e.code(),
        detail: format!("predicted value: {e}"),
    }
}

fn round_minor(v: f64) -> i64 {
    // Finite by construction (the model refuses non-finite values); saturating otherwise.
    v.round() as i64
}

/// The summaries of every member with an order day by `as_of` (orders as the domain counts
/// them, by their local day), in member-id order.
pub async fn summaries(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
) -> Result<Vec<(String, Summary)>> {
    let as_of_text = as_of.format("%Y-%m-%d").to_string();
    let mut out: Vec<(String, Summary)> = Vec::new();
    let mut current = String::new();
    let mut days: Vec<(NaiveDate, i64)> = Vec::new();
    let mut bad_day: Option<String> = None;
    let flush = |id: &str, days: &mut Vec<(NaiveDate, i64)>, out: &mut Vec<(String, Summary)>| {
        if let Some(s) = clv::summarize(days, as_of) {
            out.push((id.to_owned(), s));
        }
        days.clear();
    };
    store
        .order_days(&ws.id, &as_of_text, &mut |member, day, value| {
            if member != current {
                flush(&current, &mut days, &mut out);
                current.clear();
                current.push_str(member);
            }
            match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                Ok(d) => days.push((d, value)),
                Err(_) => bad_day = Some(format!("{member}: {day}")),
            }
        })
        .await?;
    flush(&current, &mut days, &mut out);
    if let Some(b) = bad_day {
        return Err(AppError::Store(memberops_store::StoreError::Corrupt(
            format!("order local date {b}"),
        )));
    }
    Ok(out)
}

/// Fits the models on the member base as of `as_of` and scores every member with an order
/// by then. Refused (422 `not_enough_data`) when there are too few buyers or repeat buyers
/// to fit.
pub async fn compute(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    now: Millis,
) -> Result<ClvRun> {
    let members = summaries(store, ws, as_of).await?;
    let data: Vec<Summary> = members.iter().map(|(_, s)| *s).collect();
    // Fitting and scoring a large base is seconds of CPU: off the async workers.
    let (model, predictions) = tokio::task::spawn_blocking(move || {
        let model = Model::fit(&data)?;
        let p = model.predict_all(&data)?;
        Ok::<_, ClvError>((model, p))
    })
    .await
    .map_err(|e| AppError::Unprocessable {
        code: "model_not_fitted",
        detail: format!("predicted value: the fit stopped: {e}"),
    })?
    .map_err(model_error)?;
    let as_of_text = as_of.format("%Y-%m-%d").to_string();
    let repeat_members = members.iter().filter(|(_, s)| s.frequency > 0).count() as i64;
    let rows = members
        .into_iter()
        .zip(predictions)
        .map(|((member_id, _), p)| PredictionRow {
            member_id,
            as_of: as_of_text.clone(),
            p_alive: p.p_alive,
            expected_orders_90d: p.expected_orders_90d,
            expected_aov_minor: round_minor(p.expected_aov),
            clv_12m_minor: round_minor(p.clv_12m),
            fitted_at: now,
        })
        .collect::<Vec<_>>();
    Ok(ClvRun {
        as_of,
        model,
        members: rows.len() as i64,
        repeat_members,
        rows,
    })
}

/// Fits as of `as_of` and replaces the stored predictions (and records the fit) in one
/// transaction; the segment index reloads them. Running it again for the same date gives
/// the same predictions.
pub async fn refresh(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    now: Millis,
) -> Result<RefreshReport> {
    let run = compute(store, ws, as_of, now).await?;
    let params = ModelParams::from(&run.model);
    let fit = ClvFitRow {
        as_of: as_of.format("%Y-%m-%d").to_string(),
        members: run.members,
        repeat_members: run.repeat_members,
        r: params.r,
        alpha: params.alpha,
        a: params.a,
        b: params.b,
        p: params.p,
        q: params.q,
        v_minor: params.v_minor,
        fitted_at: now,
    };
    let mut tx = store.begin_write(&ws.id).await?;
    tx.replace_predictions(&fit, &run.rows).await?;
    tx.bump_segments_version().await?;
    tx.commit().await?;
    Ok(RefreshReport {
        as_of: fit.as_of,
        members: run.members,
        repeat_members: run.repeat_members,
        params,
    })
}

/// The stored predictions of one member (by `mbr_…` or external id); `NotFound` for an
/// unknown member, `None` when the member has none (no order by the last fit's date, or no
/// refresh yet).
pub async fn member(store: &dyn Store, ws: &Workspace, id: &str) -> Result<Option<PredictionRow>> {
    let m = crate::members::get(store, ws, id).await?;
    Ok(store.member_prediction(&ws.id, &m.id).await?)
}

/// The CSV header of `memberops report clv`.
pub const CSV_COLUMNS: [&str; 5] = [
    "member_id",
    "p_alive",
    "expected_orders_90d",
    "expected_aov",
    "clv_12m",
];

/// One CSV record: probabilities and counts as the shortest decimal that reads back as the
/// same double, money in major units of the workspace currency (its minor digits: two for
/// CNY).
pub fn csv_record(r: &PredictionRow, exponent: u8) -> [String; 5] {
    [
        r.member_id.clone(),
        r.p_alive.to_string(),
        r.expected_orders_90d.to_string(),
        memberops_core::money::format_minor(r.expected_aov_minor, exponent),
        memberops_core::money::format_minor(r.clv_12m_minor, exponent),
    ]
}

/// The daily job: [`refresh`] as of the day. Too little data to fit is not a failure to
/// retry: the job reports it and leaves the stored predictions as they were.
pub async fn refresh_job(
    store: &dyn Store,
    ws: &Workspace,
    as_of: NaiveDate,
    now: Millis,
) -> Result<serde_json::Value> {
    match refresh(store, ws, as_of, now).await {
        Ok(r) => Ok(serde_json::to_value(r).unwrap_or_default()),
        Err(AppError::Unprocessable { code, detail }) => {
            Ok(serde_json::json!({"skipped": code, "detail": detail}))
        }
        Err(e) => Err(e),
    }
}
