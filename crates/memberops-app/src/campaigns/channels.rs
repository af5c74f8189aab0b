//! Channels: each an adapter behind [`Adapter`].
//!
//! - **email** over SMTP with lettre (`MEMBEROPS_SMTP_URL`: `smtp://127.0.0.1:2525`,
//!   `smtps://user:pass@host:465`, `smtp://host:587?tls=required`; `MEMBEROPS_SMTP_FROM`);
//! - **sms, push, wechat** through a provider webhook (`MEMBEROPS_PROVIDER_URL`, signed
//!   with `MEMBEROPS_PROVIDER_SECRET` as outgoing webhooks are signed: `webhook-id`,
//!   `webhook-timestamp`, `webhook-signature`); the provider's answer maps to
//!   delivered, sent (accepted) or failed;
//! - **inapp**: the member center's inbox, a row in the database.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use memberops_campaigns::Channel;
use memberops_core::time::now_millis;
use memberops_store::Store;
use memberops_store::campaigns::InboxRow;

use crate::error::{AppError, Result};

/// A message ready for its channel.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The message id: the same on every attempt, so a gateway can dedupe.
    pub id: String,
    pub workspace_id: String,
    pub campaign_id: String,
    pub member_id: String,
    pub channel: Channel,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub unsubscribe_url: String,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The channel confirmed delivery.
    Delivered,
    /// The channel accepted it (delivery not confirmed).
    Sent,
    /// Refused or unreachable; `retry` when trying again may help.
    Failed { error: String, retry: bool },
}

#[async_trait]
pub trait Adapter: Send + Sync {
    async fn send(&self, m: &Outgoing) -> Outcome;
}

/// Where each channel goes; a channel without an adapter fails its messages.
#[derive(Clone)]
pub struct Channels {
    pub email: Option<Arc<dyn Adapter>>,
    pub provider: Option<Arc<dyn Adapter>>,
    pub inbox: Arc<dyn Adapter>,
}

impl Channels {
    /// The inbox only.
    pub fn inbox_only(store: Arc<dyn Store>) -> Channels {
        Channels {
            email: None,
            provider: None,
            inbox: Arc::new(Inbox { store }),
        }
    }

    /// From `MEMBEROPS_SMTP_URL`/`MEMBEROPS_SMTP_FROM` and
    /// `MEMBEROPS_PROVIDER_URL`/`MEMBEROPS_PROVIDER_SECRET`, each pair optional.
    pub fn from_env(store: Arc<dyn Store>) -> Result<Channels> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut c = Channels::inbox_only(store);
        if let Some(url) = var("MEMBEROPS_SMTP_URL") {
            let from = var("MEMBEROPS_SMTP_FROM").unwrap_or_else(|| "memberops@localhost".into());
            c.email = Some(Arc::new(Smtp::new(&url, &from)?));
        }
        if let Some(url) = var("MEMBEROPS_PROVIDER_URL") {
            let secret = var("MEMBEROPS_PROVIDER_SECRET").unwrap_or_default();
            c.provider = Some(Arc::new(Provider::new(&url, &secret)?));
        }
        Ok(c)
    }

    pub fn adapter(&self, ch: Channel) -> Option<&Arc<dyn Adapter>> {
        match ch {
            Channel::Email => self.email.as_ref(),
            Channel::Sms | Channel::Push | Channel::Wechat => self.provider.as_ref(),
            Channel::Inapp => Some(&self.inbox),
            Channel::Call => None,
        }
    }
}

fn config_error(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Conflict {
        code: "channel_config",
        detail: format!("{what}: {e}"),
    }
}

/// Email over SMTP.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Smtp {
    pub fn new(url: &str, from: &str) -> Result<Smtp> {
        crate::webhooks::install_tls_provider();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| config_error("MEMBEROPS_SMTP_URL", e))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = from
            .parse()
            .map_err(|e| config_error("MEMBEROPS_SMTP_FROM", e))?;
        Ok(Smtp { transport, from })
    }
}

#[async_trait]
impl Adapter for Smtp {
    async fn send(&self, m: &Outgoing) -> Outcome {
        let to: lettre::message::Mailbox = match m.to.parse() {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Failed {
                    error: format!("invalid address: {e}"),
                    retry: false,
                };
            }
        };
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@memberops>", m.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone());
        let email = match email {
            Ok(e) => e,
            Err(e) => {
                return Outcome::Failed {
                    error: e.to_string(),
                    retry: false,
                };
            }
        };
        match self.transport.send(email).await {
            // The server took it: delivery to the mailbox is not confirmed by SMTP.
            Ok(_) => Outcome::Sent,
            Err(e) => Outcome::Failed {
                retry: !e.is_permanent(),
                error: e.to_string(),
            },
        }
    }
}

/// SMS, push and WeChat template messages through the gateway's webhook.
pub struct Provider {
    url: String,
    secret: String,
    client: reqwest::Client,
}

impl Provider {
    pub fn new(url: &str, secret: &str) -> Result<Provider> {
        crate::webhooks::install_tls_provider();
        reqwest::Url::parse(url).map_err(|e| config_error("MEMBEROPS_PROVIDER_URL", e))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("MemberOps-Campaigns/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error("provider client", e))?;
        Ok(Provider {
            url: url.to_owned(),
            secret: secret.to_owned(),
            client,
        })
    }
}

/// The body a gateway adapter receives.
pub fn provider_body(m: &Outgoing) -> String {
    serde_json::json!({
        "id": m.id,
        "workspace_id": m.workspace_id,
        "campaign_id": m.campaign_id,
        "member_id": m.member_id,
        "channel": m.channel.as_str(),
        "to": m.to,
        "subject": m.subject,
        "body": m.body,
        "unsubscribe_url": m.unsubscribe_url,
    })
    .to_string()
}

#[async_trait]
impl Adapter for Provider {
    async fn send(&self, m: &Outgoing) -> Outcome {
        let body = provider_body(m);
        let ts = now_millis() / 1000;
        let sig = crate::webhooks::sign::signature(&self.secret, &m.id, ts, &body);
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &m.id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Failed {
                    error: if e.is_timeout() {
                        "timed out".into()
                    } else {
                        e.to_string()
                    },
                    retry: true,
                };
            }
        };
        let code = resp.status();
        if !code.is_success() {
            let retry = code.is_server_error() || code.as_u16() == 429 || code.as_u16() == 408;
            return Outcome::Failed {
                error: format!("HTTP {}", code.as_u16()),
                retry,
            };
        }
        let answer: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        match answer["status"].as_str() {
            Some("failed") => Outcome::Failed {
                error: answer["error"]
                    .as_str()
                    .unwrap_or("the provider reported a failure")
                    .to_owned(),
                retry: false,
            },
            Some("accepted" | "queued" | "sent") => Outcome::Sent,
            _ => Outcome::Delivered,
        }
    }
}

/// The member center's inbox.
pub struct Inbox {
    pub store: Arc<dyn Store>,
}

#[async_trait]
impl Adapter for Inbox {
    async fn send(&self, m: &Outgoing) -> Outcome {
        let row = InboxRow {
            id: m.id.clone(),
            workspace_id: m.workspace_id.clone(),
            member_id: m.member_id.clone(),
            title: m.subject.clone(),
            body: m.body.clone(),
            created_at: now_millis(),
            read_at: None,
        };
        match self.store.insert_inbox(&row).await {
            Ok(_) => Outcome::Delivered,
            Err(e) => Outcome::Failed {
                error: e.to_string(),
                retry: true,
            },
        }
    }
}
