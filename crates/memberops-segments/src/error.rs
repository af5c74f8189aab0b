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
    #[error("{path}: the tree has {leaves} conditions; at most {max} are allowed")]
    TreeTooLarge {
        path: String,
        leaves: usize,
        max: usize,
    },
    #[error("invalid configuration `{field}`: {msg}")]
    InvalidConfig { field: String, msg: String },
    /// A settings key that no rule reads (most often a typo).
    #[error("unknown setting `{field}`")]
    UnknownSetting { field: String },
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
            SegmentError::TreeTooLarge { .. } => "tree_too_large",
            SegmentError::InvalidConfig { .. } => "invalid_config",
            SegmentError::UnknownSetting { .. } => "unknown_setting",
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
            | SegmentError::TreeTooDeep { path, .. }
            | SegmentError::TreeTooLarge { path, .. } => Some(path),
            SegmentError::InvalidConfig { .. }
            | SegmentError::UnknownSetting { .. }
            | SegmentError::InvalidCursor => None,
        }
    }

    /// Dotted path of the offending setting (`lifecycle.silent_after_days`), for
    /// configuration errors.
    pub fn setting(&self) -> Option<&str> {
        match self {
            SegmentError::InvalidConfig { field, .. } | SegmentError::UnknownSetting { field } => {
                Some(field)
            }
            _ => None,
        }
    }

    pub(crate) fn config(field: &str, msg: impl Into<String>) -> Self {
        SegmentError::InvalidConfig {
            field: field.to_owned(),
            msg: msg.into(),
        }
    }
}

/// Collects configuration problems, each named by its dotted path under a prefix (empty
/// for a section checked on its own, `lifecycle` inside the workspace settings).
pub(crate) struct Problems<'a> {
    at: &'a str,
    out: &'a mut Vec<SegmentError>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(at: &'a str, out: &'a mut Vec<SegmentError>) -> Self {
        Problems { at, out }
    }

    pub(crate) fn add(&mut self, field: &str, msg: impl Into<String>) {
        let path = if self.at.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.at)
        };
        self.out.push(SegmentError::config(&path, msg));
    }

    /// The first problem found by `check`, for callers that validate one section.
    pub(crate) fn first(check: impl FnOnce(&mut Problems<'_>)) -> Result<(), SegmentError> {
        let mut out = Vec::new();
        check(&mut Problems {
            at: "",
            out: &mut out,
        });
        match out.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
