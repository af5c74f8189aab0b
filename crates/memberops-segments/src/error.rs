//! The one error type of the segments crate. Every variant has a stable snake_case code so
//! the API layer can map it to a 4xx body without matching on message text.

/// Errors from configuration and condition-tree validation. Tree errors carry `path`, the
/// JSON path of the offending node in the tree (e.g. `all[1].any[0].value`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("{path}: unknown field `{field}`")]
    UnknownField { path: String, field: String },
    #[error("{path}: unknown operator `{op}`")]
    UnknownOperator { path: String, op: String },
    #[error("{path}: operator `{op}` does not apply to `{field}`")]
    UnsupportedOperator {
        path: String,
        field: String,
        op: String,
    },
    #[error("{path}: expected {expected}")]
    TypeMismatch { path: String, expected: String },
    #[error("{path}: {msg}")]
    InvalidTree { path: String, msg: String },
    #[error("{path}: the tree is nested deeper than {max} levels")]
    TreeTooDeep { path: String, max: usize },
    #[error("invalid configuration `{field}`: {msg}")]
    InvalidConfig { field: String, msg: String },
    #[error("invalid cursor")]
    InvalidCursor,
}

impl SegmentError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SegmentError::UnknownField { .. } => "unknown_field",
            SegmentError::UnknownOperator { .. } => "unknown_operator",
            SegmentError::UnsupportedOperator { .. } => "unsupported_operator",
            SegmentError::TypeMismatch { .. } => "type_mismatch",
            SegmentError::InvalidTree { .. } => "invalid_tree",
            SegmentError::TreeTooDeep { .. } => "tree_too_deep",
            SegmentError::InvalidConfig { .. } => "invalid_config",
            SegmentError::InvalidCursor => "invalid_cursor",
        }
    }

    /// JSON path of the offending tree node, for tree errors.
    pub fn path(&self) -> Option<&str> {
        match self {
            SegmentError::UnknownField { path, .. }
            | SegmentError::UnknownOperator { path, .. }
            | SegmentError::UnsupportedOperator { path, .. }
            | SegmentError::TypeMismatch { path, .. }
            | SegmentError::InvalidTree { path, .. }
            | SegmentError::TreeTooDeep { path, .. } => Some(path),
            SegmentError::InvalidConfig { .. } | SegmentError::InvalidCursor => None,
        }
    }

    pub(crate) fn config(field: &str, msg: impl Into<String>) -> Self {
        SegmentError::InvalidConfig {
            field: field.to_owned(),
            msg: msg.into(),
        }
    }
}
