//! Health: each source and chat reports its last success and last error; `/healthz` shows them.
//! The same listener serves `/metrics` (Prometheus text, see `metrics.rs`), and
//! `/audit?since=7d` (the audit log as JSON) and `/report?since=7d` (the report as JSON) to
//! loopback clients only, so `mentiondesk audit` and `mentiondesk report` work while the bot
//! holds the store's lock.

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

/// The store namespace (in the `chat` tree) and key of the notices already given, so a
/// restart in the middle of an outage does not announce it again.
const NOTICES_NAMESPACE: &str = "health";
const NOTICES_KEY: &str = "notices";

/// The time health is told in: the wall clock when first asked, moved on by the monotonic
/// (tokio) clock since. Outages are measured in it, so paused-time tests can let a source
/// fail for hours in milliseconds; in production it is the wall clock give or take any clock
/// step since the start.
pub fn now() -> DateTime<Utc> {
    static ANCHOR: std::sync::OnceLock<(DateTime<Utc>, tokio::time::Instant)> =
        std::sync::OnceLock::new();
    let (wall, monotonic) = *ANCHOR.get_or_init(|| (Utc::now(), tokio::time::Instant::now()));
    let elapsed = tokio::time::Instant::now().saturating_duration_since(monotonic);
    wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
}

/// One component's health.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ComponentHealth {
    /// The last time it worked.
    pub last_success: Option<DateTime<Utc>>,
    /// The last time it failed.
    pub last_error_at: Option<DateTime<Utc>>,
    /// What the last failure was.
    pub last_error: Option<String>,
    /// Since when it has failed without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
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
    metrics: crate::metrics::Metrics,
}

impl Health {
    /// The in-process counters `/metrics` shows next to the components' health.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// Registers a component before it reports, so `/healthz` lists it from the start.
    pub fn register(&self, component: &str) {
        self.lock().entry(component.to_string()).or_default();
    }

    /// Records a success.
    pub fn ok(&self, component: &str) {
        let mut components = self.lock();
        let entry = components.entry(component.to_string()).or_default();
        entry.last_success = Some(now());
        entry.failing_since = None;
    }

    /// Records a failure.
    pub fn error(&self, component: &str, error: &str) {
        let mut components = self.lock();
        let entry = components.entry(component.to_string()).or_default();
        let now = now();
        if !entry.is_failing() || entry.failing_since.is_none() {
            entry.failing_since = Some(now);
        }
        entry.last_error_at = Some(now);
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

/// Decides the connector-health notices: one when a component has failed without a break for
/// longer than `after`, one when it works again. Pure apart from the clock it is given, so the
/// loop in [`notify_loop`] is a thin wrapper. The loop keeps it in the store ([`Notices::load`],
/// [`Notices::save`]): after a restart an outage already announced is not announced again, and
/// its recovery is announced once, with the outage's length counted from before the restart.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Notices {
    /// Components a failure notice went out for, with when they started failing.
    noticed: BTreeMap<String, DateTime<Utc>>,
}

impl Notices {
    /// The notices due at `now`, given every component's health.
    pub fn due(
        &mut self,
        components: &BTreeMap<String, ComponentHealth>,
        now: DateTime<Utc>,
        after: std::time::Duration,
    ) -> Vec<String> {
        let after = chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
        let mut notices = Vec::new();
        for (name, component) in components {
            let failing_since = component.failing_since.filter(|_| component.is_failing());
            match (failing_since, self.noticed.get(name).copied()) {
                (Some(since), None) if now - since >= after => {
                    notices.push(format!(
                        "⚠️ {name} has been failing for {}: {}",
                        rounded(now - since),
                        component.last_error.as_deref().unwrap_or("unknown error")
                    ));
                    self.noticed.insert(name.clone(), since);
                }
                // Recovered: it worked since. (Right after a restart a component has not reported
                // yet: no recovery until it actually works.)
                (None, Some(since)) if component.last_success.is_some() => {
                    let until = component.last_success.unwrap_or(now);
                    notices.push(format!(
                        "✅ {name} works again, after failing for {}",
                        rounded(until - since)
                    ));
                    self.noticed.remove(name);
                }
                _ => {}
            }
        }
        notices
    }

    /// The components a failure notice went out for and not yet their recovery, with since
    /// when they have been failing.
    pub fn outstanding(&self) -> &BTreeMap<String, DateTime<Utc>> {
        &self.noticed
    }

    /// The notices given before a restart (none when the store has none or cannot say).
    pub fn load(store: &Store) -> Notices {
        let noticed = match store.chat_get(NOTICES_NAMESPACE, NOTICES_KEY) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(error = %error, "Unreadable health notices in the store; starting afresh");
                BTreeMap::new()
            }),
            Ok(None) => BTreeMap::new(),
            Err(error) => {
                tracing::warn!(error = %error, "Cannot read the health notices from the store");
                BTreeMap::new()
            }
        };
        Notices { noticed }
    }

    /// Keeps the notices given in the store (durably).
    pub async fn save(&self, store: &Store) -> Result<(), crate::store::StoreError> {
        let bytes = serde_json::to_vec(&self.noticed).unwrap_or_default();
        store.chat_put(NOTICES_NAMESPACE, NOTICES_KEY, &bytes).await
    }
}

/// A duration for people, to the second.
fn rounded(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0) as u64;
    humantime::format_duration(std::time::Duration::from_secs(seconds)).to_string()
}

/// Watches the registry until `shutdown` and posts each notice to every chat (chats without an
/// ops channel ignore it) and to the log. Checks a few times per `after`, at most every 30 s.
/// What was announced is kept in `store` after it was posted (a crash in between can repeat a
/// notice, never lose one).
pub async fn notify_loop(
    health: Health,
    chats: Vec<std::sync::Arc<dyn crate::chat::ChatAdapter>>,
    after: std::time::Duration,
    store: Store,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let tick = (after / 4).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(30),
    );
    let mut notices = Notices::load(&store);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.cancelled() => break,
        }
        let before = notices.clone();
        let due = notices.due(&health.snapshot(), now(), after);
        for notice in due {
            tracing::warn!(notice = %notice, "Connector health notice");
            for chat in &chats {
                if let Err(error) = chat.post_notice(&notice).await {
                    tracing::warn!(chat = chat.name(), error = %error, "Cannot post a health notice");
                }
            }
        }
        if notices != before {
            if let Err(error) = notices.save(&store).await {
                tracing::warn!(error = %error, "Cannot keep the health notices in the store");
            }
        }
    }
}

/// The ops channel as sources see it: a notice goes to every chat adapter (those without an
/// ops channel ignore it). Empty until the application connects its chats, so a source built
/// alone (tests, `check`) posts nowhere. Sources decide *when* to post (e.g. once per month
/// and budget threshold, remembered in the store); this only delivers.
#[derive(Clone, Default)]
pub struct OpsNotices {
    chats: Arc<Mutex<Vec<Arc<dyn crate::chat::ChatAdapter>>>>,
}

impl std::fmt::Debug for OpsNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsNotices").finish_non_exhaustive()
    }
}

impl OpsNotices {
    /// Sends later notices to these chats.
    pub fn connect(&self, chats: &[Arc<dyn crate::chat::ChatAdapter>]) {
        *self.chats.lock().unwrap_or_else(|p| p.into_inner()) = chats.to_vec();
    }

    /// Posts `text` to every connected chat and logs it; returns how many chats took it.
    pub async fn post(&self, text: &str) -> usize {
        tracing::warn!(notice = %text, "Ops notice");
        let chats = self.chats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut delivered = 0;
        for chat in chats {
            match chat.post_notice(text).await {
                Ok(()) => delivered += 1,
                Err(error) => {
                    tracing::warn!(chat = chat.name(), error = %error, "Cannot post an ops notice")
                }
            }
        }
        delivered
    }
}

#[derive(Serialize)]
struct HealthReport {
    status: &'static str,
    components: BTreeMap<String, ComponentHealth>,
    outbox_depth: usize,
}

/// The `/healthz` router: 200 when every component's last report was a success, 503 otherwise.
/// Also `/metrics`, `/audit` and `/report` (`sla_first_response` is `[sla].first_response`, for
/// the report). Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(health: Health, store: Store, sla_first_response: chrono::Duration) -> Router {
    let report_state = (store.clone(), sla_first_response);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/audit", get(audit))
        .with_state((health, store))
        .merge(
            Router::new()
                .route("/report", get(report))
                .with_state(report_state),
        )
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State((health, store)): State<(Health, Store)>) -> axum::response::Response {
    let gathered =
        tokio::task::spawn_blocking(move || -> Result<String, crate::store::StoreError> {
            let stats = store.stats()?;
            let outbox = store.outbox_depth_by_lane()?;
            Ok(crate::metrics::render(&crate::metrics::Scrape {
                metrics: health.metrics(),
                stats: &stats,
                outbox: &outbox,
                components: &health.snapshot(),
                now: Utc::now(),
            }))
        })
        .await;
    match gathered {
        Ok(Ok(text)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(Err(error)) => {
            tracing::error!(error = %error, "Cannot read the store for /metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the store").into_response()
        }
        Err(error) => {
            tracing::error!(error = %error, "The /metrics task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot gather metrics").into_response()
        }
    }
}

/// `GET /report?since=7d`: the report over the cases opened since then, as JSON. Loopback
/// only, like `/audit`: it names agents.
async fn report(
    State((store, first_response)): State<(Store, chrono::Duration)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<AuditQuery>,
) -> axum::response::Response {
    if !peer.ip().is_loopback() {
        tracing::warn!(peer = %peer, "Report request from off this machine refused");
        return (
            StatusCode::FORBIDDEN,
            "the report is only served on loopback",
        )
            .into_response();
    }
    let now = Utc::now();
    let since = match crate::audit::parse_since(query.since.as_deref().unwrap_or("7d"), now) {
        Ok(since) => since,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let built = tokio::task::spawn_blocking(move || {
        crate::report::from_store(&store, since, now, first_response)
    })
    .await;
    match built {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(error)) => {
            tracing::error!(error = %error, "Cannot read the store for a report");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the store").into_response()
        }
        Err(error) => {
            tracing::error!(error = %error, "The report task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot build the report").into_response()
        }
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
    }

    fn failing(since: i64, last: i64) -> ComponentHealth {
        ComponentHealth {
            last_success: Some(at(since - 10)),
            last_error_at: Some(at(last)),
            last_error: Some("HTTP 503".to_string()),
            failing_since: Some(at(since)),
        }
    }

    #[test]
    fn one_notice_after_the_threshold_and_one_on_recovery() {
        let after = Duration::from_secs(300);
        let mut notices = Notices::default();
        let mut components = BTreeMap::new();
        components.insert("source:masto".to_string(), failing(0, 100));
        assert!(notices.due(&components, at(299), after).is_empty());
        assert_eq!(
            notices.due(&components, at(301), after),
            ["⚠️ source:masto has been failing for 5m 1s: HTTP 503"]
        );
        // Still failing two hours later: nothing more.
        components.insert("source:masto".to_string(), failing(0, 7200));
        assert!(notices.due(&components, at(7200), after).is_empty());
        let mut recovered = failing(0, 7200);
        recovered.last_success = Some(at(7210));
        recovered.failing_since = None;
        components.insert("source:masto".to_string(), recovered);
        assert_eq!(
            notices.due(&components, at(7211), after),
            ["✅ source:masto works again, after failing for 2h 10s"]
        );
        assert!(notices.due(&components, at(7300), after).is_empty());
    }

    #[test]
    fn a_short_failure_goes_unannounced() {
        let after = Duration::from_secs(300);
        let mut notices = Notices::default();
        let mut components = BTreeMap::new();
        components.insert("chat/slack".to_string(), failing(0, 10));
        assert!(notices.due(&components, at(60), after).is_empty());
        let mut recovered = failing(0, 10);
        recovered.last_success = Some(at(70));
        recovered.failing_since = None;
        components.insert("chat/slack".to_string(), recovered);
        assert!(notices.due(&components, at(400), after).is_empty());
    }

    #[tokio::test]
    async fn a_restart_mid_outage_announces_nothing_again_and_the_recovery_once() {
        let after = Duration::from_secs(300);
        let store = Store::temporary().unwrap();
        let mut notices = Notices::load(&store);
        let mut components = BTreeMap::new();
        components.insert("source:masto".to_string(), failing(0, 400));
        assert_eq!(notices.due(&components, at(400), after).len(), 1);
        notices.save(&store).await.unwrap();

        // Restarted at 1000 s: the registry starts empty-handed, then fails anew.
        let mut restarted = Notices::load(&store);
        assert_eq!(restarted, notices);
        let mut components = BTreeMap::new();
        components.insert("source:masto".to_string(), ComponentHealth::default());
        assert!(
            restarted.due(&components, at(1000), after).is_empty(),
            "not reported yet: neither failing nor recovered"
        );
        components.insert(
            "source:masto".to_string(),
            ComponentHealth {
                last_success: None,
                last_error_at: Some(at(1001)),
                last_error: Some("HTTP 503".to_string()),
                failing_since: Some(at(1001)),
            },
        );
        assert!(restarted.due(&components, at(1500), after).is_empty());
        assert!(restarted.due(&components, at(7000), after).is_empty());
        components.insert(
            "source:masto".to_string(),
            ComponentHealth {
                last_success: Some(at(7200)),
                last_error_at: Some(at(7100)),
                last_error: Some("HTTP 503".to_string()),
                failing_since: None,
            },
        );
        assert_eq!(
            restarted.due(&components, at(7201), after),
            ["✅ source:masto works again, after failing for 2h"],
            "the outage counted from before the restart"
        );
        restarted.save(&store).await.unwrap();
        assert!(Notices::load(&store).outstanding().is_empty());
    }

    #[test]
    fn the_health_clock_follows_paused_time() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let before = now();
            tokio::time::advance(Duration::from_secs(7200)).await;
            let gone = now() - before;
            assert!(gone >= chrono::Duration::seconds(7200), "{gone}");
        });
    }

    #[test]
    fn failing_since_is_the_first_error_after_a_success() {
        let health = Health::default();
        health.error("source:a", "one");
        let first = health.snapshot()["source:a"].failing_since;
        assert!(first.is_some());
        health.error("source:a", "two");
        assert_eq!(health.snapshot()["source:a"].failing_since, first);
        health.ok("source:a");
        assert_eq!(health.snapshot()["source:a"].failing_since, None);
    }
}
