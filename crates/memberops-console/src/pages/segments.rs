//! Segments: the saved list, and the condition builder with its live count. The builder
//! edits the segment tree the API takes (`{"all": [{"field", "op", "value"}]}`) over the
//! fields of `memberops_segments::tree::Field`.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use memberops_app::AppError;
use memberops_app::segments::saved::{self, Engine};
use memberops_core::time::now_millis;
use memberops_segments::tree::{Field, Kind};
use serde::{Deserialize, Serialize};

use crate::ConsoleState;
use crate::error::ConsoleResult;
use crate::gate::{Ctx, see_other};
use crate::i18n::Locale;
use crate::render;

const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    cursor: Option<String>,
    flash: Option<String>,
}

pub async fn list(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> ConsoleResult<Html<String>> {
    let all = saved::list(state.store.as_ref(), &ctx.ws).await?;
    // Pages by position after the cursor's segment id.
    let start = q
        .cursor
        .as_deref()
        .and_then(|c| all.iter().position(|s| s.id == c).map(|i| i + 1))
        .unwrap_or(0);
    let page: Vec<_> = all.iter().skip(start).take(PAGE).collect();
    let next = (start + PAGE < all.len())
        .then(|| page.last().map(|s| s.id.clone()))
        .flatten();
    // Each with its size now, from the index (read only: the daily job records sizes).
    let store = state.store.as_ref();
    let now = now_millis();
    let mut rows = Vec::with_capacity(page.len());
    for s in page {
        let (_, node) = saved::get(store, &ctx.ws, &s.id).await?;
        let p = saved::preview(
            store,
            &state.segments,
            &ctx.ws,
            &node,
            0,
            Engine::Index,
            now,
        )
        .await?;
        rows.push(minijinja::context! {
            size => p.count,
            ..minijinja::Value::from_serialize(s)
        });
    }
    render::page(
        "segments.html",
        &ctx,
        minijinja::context! {
            active => "segments",
            rows,
            next_href => super::next_href("/segments", &[], next.as_deref()),
            flash => q.flash.filter(|f| f == "segment_saved"),
        },
    )
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: String,
}

#[derive(Serialize)]
struct FieldSpec {
    name: &'static str,
    label: String,
    /// `int`, `num`, `enum`, `str` or `days` (the value is a number of days).
    kind: &'static str,
    options: Vec<Choice>,
    ops: Vec<Choice>,
}

/// The label catalog prefix of an enum field's codes.
fn code_prefix(field: &str) -> &'static str {
    match field {
        "stage" => "stage.",
        "rfm_class" => "rfm.",
        "gender" => "gender.",
        _ => "value_class.",
    }
}

/// The fields the builder offers, with the operators that take one value.
fn fields(l: Locale) -> Vec<FieldSpec> {
    let choices = |items: &[&'static str], prefix: &str| -> Vec<Choice> {
        items
            .iter()
            .map(|v| Choice {
                value: v,
                label: l.t(&format!("{prefix}{v}")).to_owned(),
            })
            .collect()
    };
    Field::names()
        .filter_map(|name| {
            let field = Field::parse(name)?;
            let (kind, ops, options): (_, &[&str], _) = match field.kind() {
                Kind::Int => ("int", &["gte", "lte", "eq", "ne", "gt", "lt"], vec![]),
                Kind::Num => ("num", &["gte", "lte", "gt", "lt"], vec![]),
                Kind::Enum(codes) => ("enum", &["eq", "ne"], choices(codes, code_prefix(name))),
                Kind::Str => ("str", &["eq", "ne", "contains"], vec![]),
                Kind::Tags => ("str", &["has_tag"], vec![]),
                Kind::Instant => ("days", &["within_last_days"], vec![]),
                Kind::Birthday => ("days", &["within_next_days"], vec![]),
                Kind::Bool | Kind::Attr => return None,
            };
            let label = match l.t(&format!("field.{name}")) {
                t if t.starts_with("field.") => name.to_owned(),
                t => t.to_owned(),
            };
            Some(FieldSpec {
                name,
                label,
                kind,
                options,
                ops: choices(ops, "op."),
            })
        })
        .collect()
}

pub async fn builder(ctx: Ctx) -> ConsoleResult<Html<String>> {
    let l = ctx.locale;
    let builder = minijinja::context! {
        fields => fields(l),
        texts => minijinja::context! {
            remove => l.t("segments.remove"),
            field => l.t("segments.field"),
            op => l.t("segments.op"),
            value => l.t("segments.value"),
        },
    };
    render::page(
        "segment_new.html",
        &ctx,
        minijinja::context! { active => "segments", builder },
    )
}

#[derive(Deserialize)]
pub struct CountIn {
    condition: serde_json::Value,
}

#[derive(Serialize)]
struct CountOut {
    count: Option<u64>,
    error: Option<String>,
}

/// The live count as the builder changes: `{"count": n}`, or 422 `{"error": "…"}` naming
/// what the tree lacks.
pub async fn count(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Json(body): Json<CountIn>,
) -> ConsoleResult<Response> {
    let node = match memberops_app::segments::parse_tree(&body.condition, "condition") {
        Ok(n) => n,
        Err(e) => return Ok(refused(e)),
    };
    let store = state.store.as_ref();
    let p = saved::preview(
        store,
        &state.segments,
        &ctx.ws,
        &node,
        0,
        Engine::Index,
        now_millis(),
    )
    .await;
    match p {
        Ok(p) => Ok(Json(CountOut {
            count: Some(p.count),
            error: None,
        })
        .into_response()),
        Err(e @ AppError::Invalid(_)) => Ok(refused(e)),
        Err(e) => Err(e.into()),
    }
}

fn refused(e: AppError) -> Response {
    let detail = match &e {
        AppError::Invalid(i) => {
            i.0.iter()
                .map(|f| f.msg.clone())
                .collect::<Vec<_>>()
                .join("; ")
        }
        e => e.to_string(),
    };
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(CountOut {
            count: None,
            error: Some(detail),
        }),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    condition: String,
}

pub async fn save(
    State(state): State<ConsoleState>,
    ctx: Ctx,
    Form(f): Form<SaveForm>,
) -> ConsoleResult<Response> {
    let condition: serde_json::Value =
        serde_json::from_str(&f.condition).unwrap_or(serde_json::Value::Null);
    saved::create(
        state.store.as_ref(),
        &ctx.ws,
        &f.name,
        &condition,
        now_millis(),
    )
    .await?;
    Ok(see_other("/segments?flash=segment_saved"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_offers_typed_fields_with_labelled_codes() {
        let f = fields(Locale::ZhCn);
        let stage = f.iter().find(|f| f.name == "stage").expect("stage");
        assert_eq!(stage.kind, "enum");
        assert!(
            stage
                .options
                .iter()
                .any(|o| o.value == "new" && o.label == "引入期")
        );
        let orders = f.iter().find(|f| f.name == "orders").expect("orders");
        assert_eq!(orders.kind, "int");
        assert_eq!(orders.label, "订单数");
        assert!(f.iter().all(|f| !f.ops.is_empty()));
    }
}
