//! Extractors that turn bad input into our error body instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use memberops_core::FieldError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// JSON body: malformed JSON → 400 `invalid_json`; well-formed JSON of the wrong shape →
/// 422 `validation_failed` naming the field; text holding the NUL character (which
/// PostgreSQL cannot store) → 422 `nul_character`.
pub struct ValidJson<T>(pub T);

/// [`ValidJson`] for a body of rows judged one by one (an event batch): a NUL character
/// is refused in its own row by the use case, not for the whole body.
pub struct RowsJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

async fn json_body<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
    refuse_nul: bool,
) -> Result<T, ApiError> {
    if !is_json(&req) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| ApiError::new(e.status(), "body_unreadable", e.body_text()))?;
    if refuse_nul && memberops_core::text::json_has_nul(&bytes) {
        return Err(ApiError::validation(vec![memberops_core::text::nul_error(
            vec!["body".to_owned()],
        )]));
    }
    match axum::Json::<T>::from_bytes(&bytes) {
        Ok(axum::Json(v)) => Ok(v),
        Err(JsonRejection::JsonDataError(e)) => {
            let msg = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.body_text());
            Err(ApiError::validation(vec![FieldError::new(
                &["body"],
                "invalid_shape",
                msg,
            )]))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            e.body_text(),
        )),
    }
}

impl<S, T> FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_body(req, state, true).await.map(ValidJson)
    }
}

impl<S, T> FromRequest<S> for RowsJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_body(req, state, false).await.map(RowsJson)
    }
}

/// Refuses a request whose path or query holds an encoded NUL (`%00`): no stored text
/// can match it, and PostgreSQL cannot even compare with it.
pub async fn refuse_nul_in_uri(
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = req.uri();
    let has = |s: &str| s.as_bytes().windows(3).any(|w| w == b"%00");
    if has(uri.path()) || uri.query().is_some_and(has) {
        use axum::response::IntoResponse;
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            memberops_core::text::NUL_CODE,
            "the URL may not contain the NUL character (%00)",
        )
        .into_response();
    }
    next.run(req).await
}

/// Query string, with the same error body.
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ValidQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::validation(
                vec![FieldError::new(&["query"], "invalid_query", e.body_text())],
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                e.body_text(),
            )),
        }
    }
}
