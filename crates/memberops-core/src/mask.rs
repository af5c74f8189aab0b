//! Phones and emails as shown to those who may not see them in full (API `read` keys,
//! console roles without the right).

/// `13812345678` → `138****5678`; `+8613812345678` → `+86138****5678`.
pub fn phone(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "*".repeat(n);
    }
    let hidden = (n - 4).min(4);
    let start = n - 4 - hidden;
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i >= start && i < n - 4 { '*' } else { *c })
        .collect()
}

/// `ming.li@example.com` → `m***@example.com`.
pub fn email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}
