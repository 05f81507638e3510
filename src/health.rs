//! Health: each source and chat reports its last success and last error; `/healthz` shows them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
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
pub fn router(health: Health, store: Store) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state((health, store))
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
