//! Health: each source and chat reports its last success and last error; `/healthz` shows them.
//! The same listener serves `/audit?since=7d` (the audit log as JSON) to loopback clients
//! only, so `mentiondesk audit` works while the bot holds the store's lock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::Store;

/// One component's health.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ComponentHealth {
    /// The last time it worked.
    pub last_success: Option<DateTime<Utc>>,
    /// The last time it failed.
    pub last_error_at: Option<DateTime<Utc>>,
    /// What the last failure was.
    pub last_error: Option<String>,
}

impl ComponentHealth {
    /// Failing now: the last thing that happened was an error.
    pub fn is_failing(&self) -> bool {
        match (self.last_error_at, self.last_success) {
            (Some(error), Some(success)) => error > success,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// The health registry, shared by every task. A std mutex: held for microseconds, never
/// across an await.
#[derive(Debug, Clone, Default)]
pub struct Health {
    components: Arc<Mutex<BTreeMap<String, ComponentHealth>>>,
}

impl Health {
    /// Registers a component before it reports, so `/healthz` lists it from the start.
    pub fn register(&self, component: &str) {
        self.lock().entry(component.to_string()).or_default();
    }

    /// Records a success.
    pub fn ok(&self, component: &str) {
        self.lock()
            .entry(component.to_string())
            .or_default()
            .last_success = Some(Utc::now());
    }

    /// Records a failure.
    pub fn error(&self, component: &str, error: &str) {
        let mut components = self.lock();
        let entry = components.entry(component.to_string()).or_default();
        entry.last_error_at = Some(Utc::now());
        entry.last_error = Some(error.to_string());
    }

    /// A copy of every component's health.
    pub fn snapshot(&self) -> BTreeMap<String, ComponentHealth> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ComponentHealth>> {
        // A panic while holding this lock can't leave the map inconsistent: keep serving it.
        self.components
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Serialize)]
struct HealthReport {
    status: &'static str,
    components: BTreeMap<String, ComponentHealth>,
    outbox_depth: usize,
}

/// The `/healthz` router: 200 when every component's last report was a success, 503 otherwise.
/// Also `/audit`. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(health: Health, store: Store) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/audit", get(audit))
        .with_state((health, store))
}

#[derive(serde::Deserialize)]
struct AuditQuery {
    since: Option<String>,
}

/// `GET /audit?since=7d`: the audit records from then on, oldest first, as a JSON array.
/// Only for clients on this machine: the log holds reply texts and who wrote them, and
/// `[http].listen` may be open to a load balancer's health checks.
async fn audit(
    State((_, store)): State<(Health, Store)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<AuditQuery>,
) -> axum::response::Response {
    if !peer.ip().is_loopback() {
        tracing::warn!(peer = %peer, "Audit request from off this machine refused");
        return (
            StatusCode::FORBIDDEN,
            "the audit log is only served on loopback",
        )
            .into_response();
    }
    let since = query.since.as_deref().unwrap_or("7d");
    let since = match crate::audit::parse_since(since, Utc::now()) {
        Ok(since) => since,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    match store.audit_since(since) {
        Ok(records) => Json(records).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "Cannot read the audit log");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the audit log",
            )
                .into_response()
        }
    }
}

async fn healthz(State((health, store)): State<(Health, Store)>) -> impl IntoResponse {
    let components = health.snapshot();
    let failing = components.values().any(ComponentHealth::is_failing);
    let report = HealthReport {
        status: if failing { "degraded" } else { "ok" },
        components,
        outbox_depth: store.outbox_depth(),
    };
    let status = if failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report))
}
