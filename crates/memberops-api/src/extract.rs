//! Extractors that turn bad input into our error body instead of axum's plain text.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use std::collections::HashMap;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
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
        .map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                crate::limits::payload_too_large()
            } else {
                ApiError::new(e.status(), "body_unreadable", e.body_text())
            }
        })?;
    if refuse_nul && memberops_core::text::json_has_nul(&bytes) {
        return Err(ApiError::validation(vec![memberops_core::text::nul_error(
            vec!["body".to_owned()],
        )]));
    }
    parse_json(&bytes)
}

/// Parses a JSON body, refusing fields the target type does not have (422
/// `unknown_field`, each named): a misspelt field is otherwise silently dropped, and the
/// operator believes a setting took that did not.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if crate::limits::json_too_deep(bytes, crate::limits::JSON_DEPTH) {
        return Err(crate::limits::too_deep());
    }
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_ignored::deserialize(&mut de, |path| unknown.push(path.to_string()))
        .and_then(|v| de.end().map(|()| v));
    // Unknown fields are named even when the body fails for another reason too (a
    // misspelt required field shows as both "unknown" and "missing").
    let mut errors: Vec<FieldError> = unknown
        .iter()
        .map(|path| {
            let mut loc = vec!["body"];
            loc.extend(path.split('.').filter(|s| !s.is_empty() && *s != "?"));
            FieldError::new(&loc, "unknown_field", "no such field")
        })
        .collect();
    match parsed {
        Ok(v) if errors.is_empty() => Ok(v),
        Ok(_) => Err(ApiError::validation(errors)),
        Err(e) if e.is_data() => {
            errors.push(
                shape_error::<T>(bytes)
                    .unwrap_or_else(|| FieldError::new(&["body"], "invalid_shape", e.to_string())),
            );
            errors.dedup_by(|a, b| a.loc == b.loc && a.code == b.code);
            Err(ApiError::validation(errors))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// Where a body of the wrong shape went wrong, by path: a type that refuses unknown fields
/// itself (`deny_unknown_fields`) names them as `unknown_field` like the others.
fn shape_error<T: DeserializeOwned>(bytes: &[u8]) -> Option<FieldError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let e = serde_path_to_error::deserialize::<_, T>(&mut de).err()?;
    let mut loc = vec!["body".to_owned()];
    loc.extend(
        e.path()
            .iter()
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "?"),
    );
    let msg = e.inner().to_string();
    let unknown = msg
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let loc_ref: Vec<&str> = loc.iter().map(String::as_str).collect();
    Some(match unknown {
        Some(name) if loc.last() == Some(&name) => {
            FieldError::new(&loc_ref, "unknown_field", "no such field")
        }
        Some(name) => {
            let mut with = loc_ref.clone();
            with.push(&name);
            FieldError::new(&with, "unknown_field", "no such field")
        }
        None => FieldError::new(&loc_ref, "invalid_shape", msg),
    })
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

/// The query parameters each operation documents, by method and route template: the
/// OpenAPI document is the list of what a route takes, so a parameter it does not name is
/// refused instead of silently ignored (`GET /v1/members?region=…` answering every member).
#[derive(Clone, Default)]
pub struct KnownQueries(Arc<HashMap<(Method, String), Vec<String>>>);

impl KnownQueries {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> KnownQueries {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::{Parameter, ParameterIn};
        let names = |ps: &Option<Vec<RefOr<Parameter>>>| -> Vec<String> {
            ps.iter()
                .flatten()
                .filter_map(|p| match p {
                    RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query) => {
                        Some(p.name.clone())
                    }
                    _ => None,
                })
                .collect()
        };
        let mut map = HashMap::new();
        for (path, item) in &spec.paths.paths {
            let shared = names(&item.parameters);
            let ops = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, op) in ops {
                if let Some(op) = op {
                    let mut allowed = shared.clone();
                    allowed.extend(names(&op.parameters));
                    map.insert((method, path.clone()), allowed);
                }
            }
        }
        KnownQueries(Arc::new(map))
    }
}

/// 400 `unknown_parameter`, naming each query parameter the route does not document.
pub async fn refuse_unknown_query(
    axum::extract::State(known): axum::extract::State<KnownQueries>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let allowed = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|p| known.0.get(&(req.method().clone(), p.as_str().to_owned())));
    if let (Some(allowed), Some(q)) = (allowed, req.uri().query())
        && let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(q)
    {
        let mut unknown: Vec<String> = pairs
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !allowed.contains(k))
            .collect();
        unknown.dedup();
        if !unknown.is_empty() {
            let mut e = ApiError::validation(
                unknown
                    .iter()
                    .map(|k| {
                        FieldError::new(&["query", k], "unknown_parameter", "no such parameter")
                    })
                    .collect(),
            );
            e.status = StatusCode::BAD_REQUEST;
            e.body.code = "unknown_parameter".into();
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Unknown routes answer the error body too (404 `not_found`).
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {}", uri.path()),
    )
}

/// A known route with a method it does not take (405 `method_not_allowed`).
pub async fn wrong_method(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
    )
}
