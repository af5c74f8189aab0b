//! Operator accounts of the web console: argon2id passwords, lock-out after repeated
//! failed sign-ins, and server-side sessions whose cookie token is stored only as its
//! SHA-256 (docs/console.md).

pub mod roles;

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use memberops_core::Invalid;
use memberops_core::id;
use memberops_core::time::Millis;
use memberops_store::{OperatorRow, SessionRow, Store, StoreError};
use sha2::{Digest, Sha256};

pub use roles::{Permission, Role};

use crate::error::{AppError, Result};

/// Failed sign-ins in a row that lock an account.
pub const LOCK_AFTER: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_FOR_MS: Millis = 15 * 60 * 1000;
/// A session ends after this long without a request.
pub const SESSION_IDLE_MS: Millis = 8 * 3600 * 1000;
/// A session ends this long after sign-in, however busy.
pub const SESSION_MAX_MS: Millis = 7 * 24 * 3600 * 1000;
/// A session's expiry is moved at most this often (not on every request).
const TOUCH_EVERY_MS: Millis = 60 * 1000;
/// Shortest password an operator may choose.
pub const MIN_PASSWORD: usize = 10;

/// The demo administrator `serve --demo` creates.
pub const DEMO_ADMIN: &str = "admin@demo.local";

/// A signed-in operator.
#[derive(Debug, Clone)]
pub struct Operator {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub role: Role,
    pub locale: Option<String>,
}

impl Operator {
    pub fn can(&self, p: Permission) -> bool {
        self.role.can(p)
    }

    fn from_row(r: &OperatorRow) -> Result<Operator> {
        let role = Role::parse(&r.role)
            .ok_or_else(|| StoreError::Corrupt(format!("operator role `{}`", r.role)))?;
        Ok(Operator {
            id: r.id.clone(),
            workspace_id: r.workspace_id.clone(),
            email: r.email.clone(),
            role,
            locale: r.locale.clone(),
        })
    }
}

/// A session as the console holds it: the operator and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub operator: Operator,
    pub csrf_token: String,
}

/// What a sign-in came to. Wrong email and wrong password are one answer.
#[derive(Debug)]
pub enum SignIn {
    /// The cookie's token (shown once) and the session.
    Ok {
        token: String,
        session: Session,
    },
    Refused,
    /// Too many failures: refused without looking at the password until `until`.
    Locked {
        until: Millis,
    },
}

/// 32 random bytes in hex: session tokens, CSRF tokens, form idempotency keys.
pub fn random_token() -> String {
    let b: [u8; 32] = rand::random();
    hex::encode(b)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A password to hand out once: 20 characters without look-alikes (0/O, 1/l/I).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 20];
    rand::fill(&mut b[..]);
    b.iter()
        .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
        .collect()
}

fn hash_password(password: &str) -> Result<String> {
    let salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt).map_err(|e| internal(&e))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| internal(&e))?
        .to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn internal(e: &dyn std::fmt::Display) -> AppError {
    AppError::Store(StoreError::Corrupt(format!("password hashing: {e}")))
}

/// Hashed once, checked when the email is unknown so that the answer takes as long.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a real password").unwrap_or_default());

fn normalize_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
    if !ok {
        return Err(Invalid::one(&["email"], "invalid_email", "not an email address").into());
    }
    Ok(e)
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD || password.len() > 1024 {
        return Err(Invalid::one(
            &["password"],
            "weak_password",
            format!("a password needs {MIN_PASSWORD}–1024 characters"),
        )
        .into());
    }
    Ok(())
}

/// Runs the (deliberately slow) hash off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(&e))
}

/// Creates an account. Without a password one is generated and returned (shown once).
pub async fn create(
    store: &dyn Store,
    workspace_id: &str,
    email: &str,
    role: Role,
    password: Option<String>,
    now: Millis,
) -> Result<(Operator, Option<String>)> {
    let email = normalize_email(email)?;
    let (password, generated) = match password {
        Some(p) => {
            check_password(&p)?;
            (p, false)
        }
        None => (generate_password(), true),
    };
    let p = password.clone();
    let hash = blocking(move || hash_password(&p)).await??;
    let row = OperatorRow {
        id: id::new_id("opr"),
        workspace_id: workspace_id.to_owned(),
        email: email.clone(),
        password_hash: hash,
        role: role.as_str().to_owned(),
        locale: None,
        failed_logins: 0,
        locked_until: None,
        created_at: now,
        disabled_at: None,
    };
    store.insert_operator(&row).await.map_err(|e| match e {
        StoreError::Conflict(_) => AppError::Conflict {
            code: "operator_exists",
            detail: format!("an operator `{email}` already exists"),
        },
        e => e.into(),
    })?;
    Ok((Operator::from_row(&row)?, generated.then_some(password)))
}

/// Sets a new password (generated when None, and returned) and ends the account's sessions.
pub async fn reset_password(
    store: &dyn Store,
    email: &str,
    password: Option<String>,
) -> Result<(Operator, Option<String>)> {
    let email = normalize_email(email)?;
    let row = store
        .operator_by_email(&email)
        .await?
        .ok_or(AppError::NotFound { what: "operator" })?;
    let (password, generated) = match password {
        Some(p) => {
            check_password(&p)?;
            (p, false)
        }
        None => (generate_password(), true),
    };
    let p = password.clone();
    let hash = blocking(move || hash_password(&p)).await??;
    store.set_operator_password(&row.id, &hash).await?;
    store.delete_operator_sessions(&row.id).await?;
    Ok((Operator::from_row(&row)?, generated.then_some(password)))
}

/// The demo administrator with a fresh password (created the first time).
pub async fn demo_admin(store: &dyn Store, workspace_id: &str, now: Millis) -> Result<String> {
    let (_, password) = if store.operator_by_email(DEMO_ADMIN).await?.is_some() {
        reset_password(store, DEMO_ADMIN, None).await?
    } else {
        create(store, workspace_id, DEMO_ADMIN, Role::Admin, None, now).await?
    };
    password.ok_or(AppError::NotFound { what: "password" })
}

pub async fn list(store: &dyn Store, workspace_id: &str) -> Result<Vec<Operator>> {
    store
        .list_operators(workspace_id)
        .await?
        .iter()
        .map(Operator::from_row)
        .collect()
}

/// Checks an email and password; on success starts a session.
pub async fn sign_in(
    store: &dyn Store,
    email: &str,
    password: &str,
    now: Millis,
) -> Result<SignIn> {
    let found = match normalize_email(email) {
        Ok(e) => store.operator_by_email(&e).await?,
        Err(_) => None,
    };
    let Some(row) = found.filter(|r| r.disabled_at.is_none()) else {
        let p = password.to_owned();
        blocking(move || verify_password(&p, &DUMMY_HASH)).await?;
        return Ok(SignIn::Refused);
    };
    if let Some(until) = row.locked_until.filter(|u| *u > now) {
        return Ok(SignIn::Locked { until });
    }
    let (p, h) = (password.to_owned(), row.password_hash.clone());
    if !blocking(move || verify_password(&p, &h)).await? {
        let until = now + LOCK_FOR_MS;
        let failures = store
            .record_login_failure(&row.id, LOCK_AFTER, until)
            .await?;
        return Ok(if failures >= LOCK_AFTER {
            SignIn::Locked { until }
        } else {
            SignIn::Refused
        });
    }
    if row.failed_logins > 0 || row.locked_until.is_some() {
        store.clear_login_failures(&row.id).await?;
    }
    let token = random_token();
    let s = SessionRow {
        token_hash: token_hash(&token),
        operator_id: row.id.clone(),
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + SESSION_IDLE_MS,
    };
    store.insert_session(&s).await?;
    // Housekeeping where sessions are made: expired ones go (indexed by expiry).
    store.delete_expired_sessions(now).await?;
    Ok(SignIn::Ok {
        token,
        session: Session {
            operator: Operator::from_row(&row)?,
            csrf_token: s.csrf_token,
        },
    })
}

/// The live session a cookie's token names, its expiry moved on; None when there is none.
pub async fn session(store: &dyn Store, token: &str, now: Millis) -> Result<Option<Session>> {
    let hash = token_hash(token);
    let Some(s) = store.session(&hash, now).await? else {
        return Ok(None);
    };
    if now - s.created_at > SESSION_MAX_MS {
        store.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(row) = store
        .operator(&s.operator_id)
        .await?
        .filter(|r| r.disabled_at.is_none())
    else {
        return Ok(None);
    };
    if now - s.last_seen_at > TOUCH_EVERY_MS {
        store
            .touch_session(&hash, now, now + SESSION_IDLE_MS)
            .await?;
    }
    Ok(Some(Session {
        operator: Operator::from_row(&row)?,
        csrf_token: s.csrf_token,
    }))
}

pub async fn sign_out(store: &dyn Store, token: &str) -> Result<()> {
    Ok(store.delete_session(&token_hash(token)).await?)
}

/// The console language an operator chose (`zh-CN`, `en`), or None for the browser's.
pub async fn set_locale(store: &dyn Store, operator_id: &str, locale: Option<&str>) -> Result<()> {
    if !store.set_operator_locale(operator_id, locale).await? {
        return Err(AppError::NotFound { what: "operator" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_as_argon2id_and_verify_only_themselves() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse battery!", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.chars().count(), 20);
        assert_ne!(a, b);
        assert!(check_password(&a).is_ok());
        assert!(check_password("short").is_err());
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            normalize_email(" Admin@Demo.Local ").expect("email"),
            "admin@demo.local"
        );
        assert!(normalize_email("nobody").is_err());
        assert!(normalize_email("a@b").is_err());
    }
}
