//! Executes the webhook lane: hands an escalated case to a target's system (ticketing, CRM,
//! on-call) with a signed JSON POST, and threads the outcome (with the ticket link if the
//! target returns one).
//!
//! Signature: `X-Mentiondesk-Timestamp: <unix seconds>` and
//! `X-Mentiondesk-Signature: v1=<hex HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)>`;
//! the receiver recomputes it and rejects stale timestamps. `Idempotency-Key` is
//! `case-N-escalation-TARGET`, so a receiver can drop the retry of a request it already handled.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::chat::store_retry;
use super::{finish, Executor, Outbox, Retry};
use crate::domain::text::mask_pii;
use crate::domain::{apply, Command};
use crate::store::{OutboxEntry, OutboxKey, OutboxTask, Store};

/// The lane of every webhook call.
pub const WEBHOOK_LANE: &str = "webhook";

/// How many times a transient failure is retried before the hand-off is reported failed.
const WEBHOOK_ATTEMPTS: u32 = 5;

/// How long one call may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);

/// A target's webhook.
#[derive(Clone)]
pub struct WebhookTarget {
    /// The target's label.
    pub label: String,
    /// Where to POST.
    pub url: String,
    /// The signing secret.
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("label", &self.label)
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Executes the webhook lane.
pub struct WebhookExecutor {
    targets: HashMap<String, WebhookTarget>,
    client: reqwest::Client,
    store: Store,
    outbox: Outbox,
}

impl WebhookExecutor {
    /// An executor for these targets (by config id).
    pub fn new(
        targets: HashMap<String, WebhookTarget>,
        store: Store,
        outbox: Outbox,
    ) -> anyhow::Result<WebhookExecutor> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("mentiondesk/", env!("CARGO_PKG_VERSION")))
            .timeout(WEBHOOK_TIMEOUT)
            .build()?;
        Ok(WebhookExecutor {
            targets,
            client,
            store,
            outbox,
        })
    }

    async fn record(
        &self,
        key: &OutboxKey,
        entry: &OutboxEntry,
        command: Command,
    ) -> Result<(), Retry> {
        let now = Utc::now();
        self.store
            .transact(|tx| {
                if let Some(case) = tx.case(entry.case)? {
                    match apply(&case, command.clone(), now) {
                        Ok(transition) => {
                            tx.put_case(&transition.case)?;
                            tx.append_events(&transition.events)?;
                            tx.append_audit(&crate::domain::audit::records(
                                &case,
                                &transition.case,
                                &transition.events,
                            ))?;
                            self.outbox
                                .enqueue_effects(tx, &transition.case, &transition.events, now)?;
                        }
                        Err(refusal) => {
                            tracing::warn!(case = %case.id, refusal = %refusal, "Webhook outcome not recorded");
                        }
                    }
                }
                tx.complete(key)
            })
            .map_err(store_retry)?;
        self.store.flush().await.map_err(store_retry)?;
        self.outbox.wake_all();
        Ok(())
    }
}

/// The signature header value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| Hmac::<Sha256>::new_from_slice(b"").expect("hmac takes any key"));
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait::async_trait]
impl Executor for WebhookExecutor {
    fn lane(&self) -> String {
        WEBHOOK_LANE.to_string()
    }

    async fn execute(&self, key: &OutboxKey, entry: &OutboxEntry) -> Result<(), Retry> {
        let OutboxTask::Webhook { target } = &entry.task else {
            return finish(&self.store, key).await;
        };
        let case = self.store.case(entry.case).map_err(store_retry)?;
        let escalation = case
            .as_ref()
            .and_then(|case| case.escalations.iter().find(|e| &e.target == target));
        let (Some(case), Some(escalation)) = (case.as_ref(), escalation) else {
            return finish(&self.store, key).await;
        };
        let Some(webhook) = self.targets.get(target) else {
            let command = Command::EscalationFailed {
                target: target.clone(),
                label: escalation.label.clone(),
                error: "the target has no webhook in the current config".to_string(),
            };
            return self.record(key, entry, command).await;
        };
        let body = json!({
            "type": "escalation",
            "case": case.id.0,
            "target": target,
            "escalated_by": escalation.by.name,
            "note": mask_pii(&escalation.note),
            "escalated_at": escalation.at,
            "network": case.network.as_str(),
            "customer": { "handle": case.customer.handle, "id": case.customer.id },
            "post": { "id": case.opening.id, "url": case.opening.url, "text": mask_pii(&case.opening.text) },
            "triage": case.triage,
            "state": case.state,
            "owner": case.owner.as_ref().map(|owner| owner.name.clone()),
        })
        .to_string();
        let timestamp = Utc::now().timestamp();
        let result = self
            .client
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header("x-mentiondesk-timestamp", timestamp.to_string())
            .header(
                "x-mentiondesk-signature",
                signature(&webhook.secret, timestamp, body.as_bytes()),
            )
            .header(
                "idempotency-key",
                format!("case-{}-escalation-{target}", case.id.0),
            )
            .body(body)
            .send()
            .await;
        let failure = match result {
            Ok(response) if response.status().is_success() => {
                let reply: serde_json::Value = response.json().await.unwrap_or_default();
                let link = ["ticket_url", "url", "link"]
                    .iter()
                    .find_map(|field| reply.get(*field)?.as_str().map(str::to_string))
                    .filter(|link| link.starts_with("http://") || link.starts_with("https://"));
                tracing::info!(case = %case.id, target = %target, "Escalation webhook delivered");
                let command = Command::EscalationDelivered {
                    target: target.clone(),
                    label: escalation.label.clone(),
                    link,
                };
                return self.record(key, entry, command).await;
            }
            Ok(response) => {
                let status = response.status();
                let text: String = response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                let message = format!("HTTP {status}: {text}");
                if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
                    let command = Command::EscalationFailed {
                        target: target.clone(),
                        label: escalation.label.clone(),
                        error: message,
                    };
                    return self.record(key, entry, command).await;
                }
                message
            }
            Err(error) => format!("request failed: {error}"),
        };
        if entry.attempts + 1 >= WEBHOOK_ATTEMPTS {
            let command = Command::EscalationFailed {
                target: target.clone(),
                label: escalation.label.clone(),
                error: format!("{failure} (gave up after {WEBHOOK_ATTEMPTS} attempts)"),
            };
            return self.record(key, entry, command).await;
        }
        Err(Retry {
            message: failure,
            after: None,
            permanent: false,
        })
    }
}

/// Builds the executor's targets from config: every escalation target with a webhook.
pub fn targets_from(settings: &crate::config::Settings) -> HashMap<String, WebhookTarget> {
    settings
        .escalations
        .iter()
        .filter_map(|target| {
            let webhook = target.webhook.as_ref()?;
            Some((
                target.id.clone(),
                WebhookTarget {
                    label: target.label.clone(),
                    url: webhook.url.clone(),
                    secret: webhook.secret.expose().to_string(),
                },
            ))
        })
        .collect()
}

/// Used by tests and receivers: whether a request's signature is valid.
pub fn verify(secret: &str, timestamp: i64, body: &[u8], signature_header: &str) -> bool {
    let expected = signature(secret, timestamp, body);
    expected.len() == signature_header.len()
        && expected
            .bytes()
            .zip(signature_header.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}
