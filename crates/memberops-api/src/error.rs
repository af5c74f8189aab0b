//! The one place where failures become HTTP answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use memberops_app::AppError;
use memberops_core::FieldError;
use serde::Serialize;

/// Every error answer has this body: a stable snake_case `code`, a human `detail`, and for
/// validation failures the field-level `errors`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(example = "validation_failed")]
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                detail: detail.into(),
                errors: Vec::new(),
            },
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.loc.join("."), e.msg))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody {
                code: "validation_failed".into(),
                detail,
                errors,
            },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let status = match &e {
            AppError::Invalid(inv) => return ApiError::validation(inv.0.clone()),
            AppError::NotFound { .. } | AppError::Store(memberops_store::StoreError::NotFound) => {
                StatusCode::NOT_FOUND
            }
            AppError::Conflict { .. }
            | AppError::Store(memberops_store::StoreError::Conflict(_)) => StatusCode::CONFLICT,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Store(memberops_store::StoreError::Full) => {
                tracing::error!("the database's disk is full: writes are refused");
                StatusCode::INSUFFICIENT_STORAGE
            }
            AppError::Store(memberops_store::StoreError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Store(_) => {
                // Details of internal failures go to the log, not to the client.
                tracing::error!(error = %e, "internal error");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                );
            }
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
