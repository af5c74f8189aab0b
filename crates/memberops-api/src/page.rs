//! The one list shape (docs/api.md): `?limit=` (1–1,000, default 50) and `?cursor=`,
//! answered as `{"data": […], "next_cursor": "…" | null}`.

use serde::Deserialize;

use crate::error::{ApiError, ApiResult};

/// `limit` and `cursor` of a list that takes no other parameter.
#[derive(Deserialize, utoipa::IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

pub use memberops_app::lists::Page;

/// The page size a list was asked for.
pub fn limit(limit: Option<i64>) -> ApiResult<usize> {
    memberops_app::members::page_limit(limit)
        .map(|l| usize::try_from(l).unwrap_or(50))
        .map_err(ApiError::from)
}

fn invalid_cursor() -> ApiError {
    memberops_app::lists::invalid_cursor().into()
}

/// Pages a list that is read whole (configuration: templates, rules, segments): such
/// lists are short, so the cursor is the position of the next item.
pub fn in_memory<T>(items: Vec<T>, q: &PageQuery) -> ApiResult<Page<T>> {
    in_memory_with(items, q.limit, q.cursor.as_deref())
}

/// [`in_memory`] for a query struct that carries its own `limit` and `cursor`.
pub fn in_memory_with<T>(
    mut items: Vec<T>,
    limit_param: Option<i64>,
    cursor: Option<&str>,
) -> ApiResult<Page<T>> {
    let limit = limit(limit_param)?;
    let start = match cursor {
        None => 0,
        Some(c) => c
            .strip_prefix('p')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(invalid_cursor)?,
    };
    let end = start.saturating_add(limit).min(items.len());
    let next_cursor = (end < items.len()).then(|| format!("p{end}"));
    let data = if start >= items.len() {
        Vec::new()
    } else {
        items.truncate(end);
        items.split_off(start)
    };
    Ok(Page::new(data, next_cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(n: usize, limit: i64) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let p =
                in_memory_with((0..n).collect(), Some(limit), cursor.as_deref()).expect("parses");
            seen.extend(p.data);
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => return seen,
            }
        }
    }

    #[test]
    fn walking_the_cursor_gives_every_item_once_in_order() {
        for (n, limit) in [(0, 1), (1, 1), (5, 2), (6, 2), (6, 50), (120, 50)] {
            assert_eq!(
                walk(n, limit),
                (0..n).collect::<Vec<_>>(),
                "n={n} limit={limit}"
            );
        }
    }

    #[test]
    fn a_foreign_cursor_or_limit_out_of_range_is_refused() {
        assert!(in_memory_with(vec![1], None, Some("abc")).is_err());
        assert!(in_memory_with(vec![1], Some(0), None).is_err());
        assert!(in_memory_with(vec![1], Some(1001), None).is_err());
        let past_end = in_memory_with(vec![1], None, Some("p9")).expect("parses");
        assert!(past_end.data.is_empty() && past_end.next_cursor.is_none());
    }
}
