use serde::Serialize;

/// One problem with one input field. `loc` is the path to the field (e.g. `["properties",
/// "amount"]`), `code` a stable machine-readable reason, `msg` a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub loc: Vec<String>,
    pub code: String,
    pub msg: String,
}

/// `{"loc", "code", "msg"}` (docs/api.md), plus `type`: the same code under the name
/// earlier releases gave it, kept for clients written against them.
impl Serialize for FieldError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("FieldError", 4)?;
        st.serialize_field("loc", &self.loc)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("msg", &self.msg)?;
        st.serialize_field("type", &self.code)?;
        st.end()
    }
}

impl FieldError {
    pub fn new(loc: &[&str], code: &str, msg: impl Into<String>) -> Self {
        Self {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            code: code.to_owned(),
            msg: msg.into(),
        }
    }

    /// The same error, nested one level deeper (e.g. under `properties`).
    pub fn under(mut self, parent: &str) -> Self {
        self.loc.insert(0, parent.to_owned());
        self
    }
}

/// Input that failed validation: one or more field errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.loc.join("."), e.msg)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(loc: &[&str], code: &str, msg: impl Into<String>) -> Self {
        Self(vec![FieldError::new(loc, code, msg)])
    }

    /// The first error's code: what a single-reason report (e.g. a rejected CSV line) shows.
    pub fn code(&self) -> &str {
        self.0.first().map(|e| e.code.as_str()).unwrap_or("invalid")
    }
}

/// Collects field errors while validating a whole input, so the caller sees all of them.
#[derive(Debug, Default)]
pub struct Collector(Vec<FieldError>);

impl Collector {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Keeps the value of `r`, or records its errors and returns `None`.
    pub fn take<T>(&mut self, r: Result<T, Invalid>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Invalid(errs)) => {
                self.0.extend(errs);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.0))
        }
    }
}
