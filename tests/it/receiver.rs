//! A webhook receiver for tests: an HTTP server on loopback that records every request and
//! answers as told (svix's test receiver is the model).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};

/// How the receiver answers.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    Ok,
    /// 500 for the first `n` attempts of each `webhook-id`, then 200.
    FailFirst(usize),
    /// Always 500.
    Fail,
    /// Answers after this long.
    Hang(Duration),
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (hits, seen) = (h.clone(), seen.clone());
                async move {
                    let get = |k: &str| {
                        headers
                            .get(k)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let id = get("webhook-id");
                    let attempt = {
                        let mut seen = seen.lock().expect("lock");
                        let n = seen.entry(id.clone()).or_insert(0);
                        *n += 1;
                        *n
                    };
                    hits.lock().expect("lock").push(Hit {
                        id,
                        timestamp: get("webhook-timestamp"),
                        signature: get("webhook-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    match behaviour {
                        Behaviour::Ok => StatusCode::OK,
                        Behaviour::FailFirst(n) if attempt <= n => {
                            StatusCode::INTERNAL_SERVER_ERROR
                        }
                        Behaviour::FailFirst(_) => StatusCode::NO_CONTENT,
                        Behaviour::Fail => StatusCode::INTERNAL_SERVER_ERROR,
                        Behaviour::Hang(d) => {
                            tokio::time::sleep(d).await;
                            StatusCode::OK
                        }
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, hits }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived (at most `within`); returns them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let hits = self.hits();
            if hits.len() >= n || tokio::time::Instant::now() >= deadline {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
