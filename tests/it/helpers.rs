use std::sync::Arc;

use memberops_api::AppState;
use memberops_app::Workspace;
use memberops_store::{KeyScope, Store};
use reqwest::StatusCode;
use serde_json::Value;

/// Runs an async test body against both backends: `both!(name)` expects
/// `async fn name(app: TestApp)` in the same module.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Db::Sqlite).await;
                super::$name(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::helpers::TestApp::try_spawn_postgres().await else {
                    return;
                };
                super::$name(app).await;
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh database: a SQLite file in a temp dir, or a PostgreSQL database created for
/// this test and dropped when this guard goes.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_admin.take() {
            // Drop runs outside async: use a private runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("MEMBEROPS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into())
}

/// Whether Python can import `module` (a real third-party client from PyPI). Outside CI a
/// test that needs it says it skipped; in CI, where `.ci/run` installs `package`, it fails.
pub fn python_has(module: &str, package: &str) -> bool {
    let has = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        assert!(!in_ci(), "CI needs `pip install {package}`");
        eprintln!("skipped: `pip install {package}` to run this test");
    }
    has
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = dir
            .path()
            .join("memberops.db")
            .to_string_lossy()
            .into_owned();
        TestDb {
            url,
            _dir: Some(dir),
            pg_admin: None,
        }
    }

    /// A fresh PostgreSQL database, or None (after saying so) when PostgreSQL is not
    /// reachable outside CI.
    pub async fn postgres() -> Option<TestDb> {
        use sqlx::Connection;
        let admin = pg_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if in_ci() {
                    panic!("PostgreSQL at {admin} is required in CI: {e}");
                }
                eprintln!(
                    "skipped: PostgreSQL not reachable at {admin} ({e}); set MEMBEROPS_TEST_DATABASE_URL"
                );
                return None;
            }
        };
        let name = format!(
            "memberops_it_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        // Same server and credentials, our database name in place of the admin one.
        let (base, last) = admin.rsplit_once('/').expect("a database URL with a path");
        let query = last.find('?').map(|q| &last[q..]).unwrap_or("");
        let url = format!("{base}/{name}{query}");
        Some(TestDb {
            url,
            _dir: None,
            pg_admin: Some((admin, name)),
        })
    }
}

/// A running server on a random port with an admin key, and direct access to its store.
pub struct TestApp {
    pub addr: String,
    pub key: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub ws: Workspace,
    /// Kept so the database lives as long as the app.
    pub _db: TestDb,
    pub backend: Db,
}

impl TestApp {
    pub async fn spawn(kind: Db) -> TestApp {
        let db = match kind {
            Db::Sqlite => TestDb::sqlite(),
            Db::Postgres => TestDb::postgres().await.expect("postgres"),
        };
        Self::spawn_on(db, kind).await
    }

    pub async fn try_spawn_postgres() -> Option<TestApp> {
        let db = TestDb::postgres().await?;
        Some(Self::spawn_on(db, Db::Postgres).await)
    }

    async fn spawn_on(db: TestDb, backend: Db) -> TestApp {
        Self::spawn_tuned(db, backend, memberops_api::Limits::default(), None).await
    }

    /// A server with the given limits and key-cache time (both databases: `db`).
    pub async fn spawn_limited(
        kind: Db,
        limits: memberops_api::Limits,
        key_ttl: std::time::Duration,
    ) -> Option<TestApp> {
        let db = match kind {
            Db::Sqlite => TestDb::sqlite(),
            Db::Postgres => TestDb::postgres().await?,
        };
        Some(Self::spawn_tuned(db, kind, limits, Some(key_ttl)).await)
    }

    async fn spawn_tuned(
        db: TestDb,
        backend: Db,
        limits: memberops_api::Limits,
        key_ttl: Option<std::time::Duration>,
    ) -> TestApp {
        let store = memberops_store::connect(&db.url).await.expect("connect");
        store.migrate().await.expect("migrate");
        // The test's workspace is the server's: the same caches, as a worker of the same
        // process would share them.
        let workspaces = memberops_app::Workspaces::new(store.clone());
        let ws = Workspace::clone(
            &workspaces
                .get(memberops_core::id::DEFAULT_WORKSPACE)
                .await
                .expect("workspace"),
        );
        let (_, key) = memberops_app::keys::create(store.as_ref(), &ws.id, "test", KeyScope::Admin)
            .await
            .expect("key");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        // Webhook receivers in tests listen on loopback.
        let mut state = AppState::new(store.clone())
            .with_workspaces(workspaces)
            .with_webhook_policy(memberops_app::webhooks::AddressPolicy {
                allow_private: true,
            });
        if let Some(ttl) = key_ttl {
            state = state.with_key_ttl(ttl);
        }
        tokio::spawn(memberops_api::serve_with(
            listener,
            state,
            limits,
            std::future::pending(),
        ));
        TestApp {
            addr,
            key,
            client: {
                memberops_app::webhooks::install_tls_provider();
                reqwest::Client::new()
            },
            store,
            ws,
            _db: db,
            backend,
        }
    }

    /// Runs the event log's consumers (coupon rules, webhooks) up to the head, as the
    /// worker does after each commit; returns the events handled.
    pub async fn drain(&self) -> usize {
        memberops_app::consumers::drain(
            self.store.as_ref(),
            &self.ws,
            &memberops_app::consumers::Registry::standard(),
        )
        .await
        .expect("consumers")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    pub async fn ingest_key(&self) -> String {
        memberops_app::keys::create(self.store.as_ref(), &self.ws.id, "shop", KeyScope::Ingest)
            .await
            .expect("key")
            .1
    }

    /// Sends a request with the admin key and returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.key.clone(), method, path, body).await
    }

    pub async fn call_as(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// Posts a batch and asserts it was processed.
    pub async fn batch(&self, events: Value) -> Value {
        let (status, body) = self
            .post("/v1/events:batch", serde_json::json!({ "events": events }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn member(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/members/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}
