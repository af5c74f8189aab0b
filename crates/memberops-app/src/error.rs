use memberops_core::Invalid;
use memberops_store::StoreError;

/// Why a use case refused or failed. Each variant has a stable code; the API maps them to
/// HTTP statuses in one place.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The request conflicts with what is stored (`code` says how).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Well-formed but impossible to apply (`code` says why, e.g. `balance_overflow`).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// The request is larger than a use case takes (`code` says which bound).
    #[error("{detail}")]
    TooLarge { code: &'static str, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    pub fn code(&self) -> &str {
        match self {
            AppError::Invalid(_) => "validation_failed",
            AppError::NotFound { .. } => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::TooLarge { code, .. } => code,
            AppError::Unprocessable { code, .. } => code,
            AppError::Store(StoreError::NotFound) => "not_found",
            AppError::Store(StoreError::Conflict(_)) => "conflict",
            AppError::Store(StoreError::Full) => "storage_full",
            AppError::Store(StoreError::Busy) => "database_busy",
            AppError::Store(_) => "internal",
        }
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
