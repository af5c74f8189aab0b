//! Why a console page could not be shown, as a page of its own with a stable code.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use memberops_app::AppError;

use crate::i18n::Locale;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The role may not do this (checked by the gate).
    #[error("forbidden")]
    Forbidden,
    /// A POST without the session's CSRF token.
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error(transparent)]
    App(#[from] AppError),
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("{0}")]
    Internal(String),
}

impl ConsoleError {
    pub fn code(&self) -> &str {
        match self {
            ConsoleError::Forbidden => "forbidden",
            ConsoleError::Csrf => "csrf_failed",
            ConsoleError::App(e) => e.code(),
            ConsoleError::Template(_) | ConsoleError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Forbidden | ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::App(AppError::NotFound { .. }) => StatusCode::NOT_FOUND,
            ConsoleError::App(AppError::Invalid(_) | AppError::Unprocessable { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ConsoleError::App(AppError::Conflict { .. }) => StatusCode::CONFLICT,
            ConsoleError::App(AppError::Forbidden(_)) => StatusCode::FORBIDDEN,
            ConsoleError::App(AppError::Unauthorized(_)) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the page says; kept on the response so the gate can show it in the
    /// operator's language.
    pub fn info(&self) -> ErrorInfo {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "console page failed");
        }
        let detail = match self {
            ConsoleError::App(e) if !status.is_server_error() => e.to_string(),
            _ => String::new(),
        };
        ErrorInfo {
            status,
            code: self.code().to_owned(),
            detail,
        }
    }

    pub fn page(&self, locale: Locale) -> Response {
        self.info().page(locale)
    }
}

/// An error page's content, independent of the language.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
}

impl ErrorInfo {
    pub fn page(&self, locale: Locale) -> Response {
        let key = format!("error.{}", self.code);
        let title = match locale.t(&key) {
            t if t == key => locale.t("error.other"),
            t => t,
        };
        let body = crate::render::error_page(locale, self.status.as_u16(), title, &self.detail);
        let mut r = (self.status, Html(body)).into_response();
        r.extensions_mut().insert(self.clone());
        r
    }
}

impl IntoResponse for ConsoleError {
    /// In English; the gate shows it again in the operator's language.
    fn into_response(self) -> Response {
        self.page(Locale::En)
    }
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;
