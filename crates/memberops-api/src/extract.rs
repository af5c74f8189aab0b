//! Extractors that turn bad input into our error body instead of axum's plain text.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use memberops_core::FieldError;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// JSON body: malformed JSON → 400 `invalid_json`; well-formed JSON of the wrong shape →
/// 422 `validation_failed` naming the field.
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ValidJson(v)),
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
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e)) => {
                Err(ApiError::new(e.status(), "body_unreadable", e.body_text()))
            }
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                e.body_text(),
            )),
        }
    }
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
