//! One module per console section.

pub mod account;
pub mod campaigns;
pub mod dashboard;
pub mod login;
pub mod members;
pub mod segments;

/// `?cursor=` link of a list's next page, keeping its other parameters.
pub(crate) fn next_href(
    path: &str,
    params: &[(&str, &str)],
    cursor: Option<&str>,
) -> Option<String> {
    let cursor = cursor?;
    let mut all: Vec<(&str, &str)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    all.push(("cursor", cursor));
    Some(format!(
        "{path}?{}",
        serde_urlencoded::to_string(all).unwrap_or_default()
    ))
}
