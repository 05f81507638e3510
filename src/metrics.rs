//! `/metrics`: Prometheus text format (version 0.0.4), written by hand.
//!
//! Two kinds of figures:
//! - counters the store keeps in the transaction of what they count (`Store::stats`):
//!   mentions ingested by network, cases by state, SLA breaches, replies sent and failed,
//!   escalations. They are exact and survive restarts;
//! - counters of this process ([`Metrics`], held by the health registry): cards posted, thread
//!   notes posted, and errors answered by outside APIs (sources and chats) by service and
//!   status. They start at zero with the process, as Prometheus counters may.
//!
//! Gauges are read when scraped: outbox depth by lane, seconds since each source last read
//! successfully (its lag), whether each component's last report was a success.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::health::ComponentHealth;
use crate::store::{OutboxTask, StoreStats};

/// The in-process counters. Cheap to clone; all clones share the counts. A std mutex: held
/// for microseconds, never across an await.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    counters: Arc<Mutex<Counters>>,
}

/// (family, labels) → count.
type Counters = BTreeMap<(&'static str, Vec<(&'static str, String)>), u64>;

/// `mentiondesk_cards_posted_total`.
const CARDS_POSTED: &str = "mentiondesk_cards_posted_total";
/// `mentiondesk_thread_notes_total`.
const THREAD_NOTES: &str = "mentiondesk_thread_notes_total";
/// `mentiondesk_api_errors_total`.
const API_ERRORS: &str = "mentiondesk_api_errors_total";
/// `mentiondesk_triage_retrains_total`.
const TRIAGE_RETRAINS: &str = "mentiondesk_triage_retrains_total";

impl Metrics {
    /// Counts an outbox entry a chat lane executed (`chat` is the adapter's name).
    pub fn chat_delivered(&self, chat: &str, task: &OutboxTask) {
        match task {
            OutboxTask::SyncCard => self.add(CARDS_POSTED, &[("chat", chat), ("kind", "case")]),
            OutboxTask::EscalationCard { .. } => {
                self.add(CARDS_POSTED, &[("chat", chat), ("kind", "escalation")])
            }
            OutboxTask::ThreadNote { .. } => self.add(THREAD_NOTES, &[("chat", chat)]),
            _ => {}
        }
    }

    /// Counts an error an outside API answered (or a failed request): `service` is the
    /// component (`source:<name>`, `chat/<name>`, `reply/<source>`, `webhook`).
    pub fn api_error(&self, service: &str, message: &str, rate_limited: bool) {
        let status = error_status(message, rate_limited);
        self.add(API_ERRORS, &[("service", service), ("status", &status)]);
    }

    /// Counts a learned triage model the running bot retrained and swapped in (`reason`:
    /// `no_model`, `unusable_model` or `new_labels`).
    pub fn triage_retrained(&self, reason: &str) {
        self.add(TRIAGE_RETRAINS, &[("reason", reason)]);
    }

    fn add(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let key = (
            name,
            labels
                .iter()
                .map(|(label, value)| (*label, value.to_string()))
                .collect(),
        );
        *self.lock().entry(key).or_default() += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The HTTP status in an error message (`HTTP 503 ...`, as `sources::http::check` and the
/// chat adapters write them), `429` for a rate limit, else `error` (timeouts, refused
/// connections, errors the API reports in a 200 body).
pub fn error_status(message: &str, rate_limited: bool) -> String {
    if rate_limited {
        return "429".to_string();
    }
    let status = message
        .match_indices("HTTP ")
        .filter_map(|(at, _)| message.get(at + 5..at + 8))
        .find(|code| code.bytes().all(|byte| byte.is_ascii_digit()));
    match status {
        Some(code) => code.to_string(),
        None if message.to_ascii_lowercase().contains("rate limit")
            || message.contains("ratelimited") =>
        {
            "429".to_string()
        }
        None => "error".to_string(),
    }
}

/// Everything `/metrics` shows, gathered when scraped.
pub struct Scrape<'a> {
    /// The in-process counters.
    pub metrics: &'a Metrics,
    /// The store's counters.
    pub stats: &'a StoreStats,
    /// Outbox entries by lane.
    pub outbox: &'a BTreeMap<String, u64>,
    /// Every component's health.
    pub components: &'a BTreeMap<String, ComponentHealth>,
    /// The scrape time.
    pub now: DateTime<Utc>,
}

/// The exposition text.
pub fn render(scrape: &Scrape) -> String {
    let mut out = Exposition::default();
    out.family(
        "mentiondesk_mentions_ingested_total",
        "counter",
        "Customers' posts stored (new posts, after dedupe), by network.",
        scrape
            .stats
            .ingested
            .iter()
            .map(|(network, count)| (vec![("network", network.as_str())], *count as f64)),
    );
    out.family(
        "mentiondesk_cases",
        "gauge",
        "Cases by state.",
        scrape
            .stats
            .cases_by_state
            .iter()
            .map(|(state, count)| (vec![("state", state.as_str())], *count as f64)),
    );
    out.family(
        "mentiondesk_sla_breaches_total",
        "counter",
        "First-response deadlines that passed without a public answer.",
        [(Vec::new(), scrape.stats.sla_breaches as f64)],
    );
    let audit = |action: &str| scrape.stats.audit.get(action).copied().unwrap_or(0) as f64;
    out.family(
        "mentiondesk_replies_total",
        "counter",
        "Public replies, by result: sent (the network accepted it) or failed.",
        [
            (vec![("result", "sent")], audit("reply_sent")),
            (vec![("result", "failed")], audit("reply_failed")),
        ],
    );
    out.family(
        "mentiondesk_escalations_total",
        "counter",
        "Escalations, and their webhook deliveries by result.",
        [
            (vec![("result", "escalated")], audit("escalated")),
            (vec![("result", "delivered")], audit("escalation_delivered")),
            (vec![("result", "failed")], audit("escalation_failed")),
        ],
    );
    let counters = scrape.metrics.lock().clone();
    for (name, help) in [
        (
            CARDS_POSTED,
            "Cards posted or edited in place (kind case) and escalation cards posted, by chat, since start.",
        ),
        (THREAD_NOTES, "Thread notes posted, by chat, since start."),
        (
            API_ERRORS,
            "Errors answered by outside APIs (or failed requests), by service and HTTP status, since start.",
        ),
        (
            TRIAGE_RETRAINS,
            "Learned triage models retrained from the team's labels and swapped in by the running bot, by reason, since start.",
        ),
    ] {
        out.family(
            name,
            "counter",
            help,
            counters
                .iter()
                .filter(|((family, _), _)| *family == name)
                .map(|((_, labels), count)| {
                    (
                        labels
                            .iter()
                            .map(|(label, value)| (*label, value.as_str()))
                            .collect(),
                        *count as f64,
                    )
                }),
        );
    }
    out.family(
        "mentiondesk_outbox_depth",
        "gauge",
        "Side effects waiting in the outbox, by lane (dead/<lane>: set aside after failing).",
        scrape
            .outbox
            .iter()
            .map(|(lane, count)| (vec![("lane", lane.as_str())], *count as f64)),
    );
    out.family(
        "mentiondesk_source_lag_seconds",
        "gauge",
        "Seconds since each source last read successfully (absent before its first read).",
        scrape.components.iter().filter_map(|(name, health)| {
            let source = name.strip_prefix("source:")?;
            let last = health.last_success?;
            let lag = (scrape.now - last).num_milliseconds().max(0) as f64 / 1000.0;
            Some((vec![("source", source)], lag))
        }),
    );
    out.family(
        "mentiondesk_component_up",
        "gauge",
        "1 when the component's last report was a success, 0 when it is failing.",
        scrape.components.iter().map(|(name, health)| {
            (
                vec![("component", name.as_str())],
                if health.is_failing() { 0.0 } else { 1.0 },
            )
        }),
    );
    out.text
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family<'a>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, f64)>,
    ) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            self.text.push_str(name);
            if !labels.is_empty() {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(label, value)| format!("{label}=\"{}\"", escape_label(value)))
                    .collect();
                let _ = write!(self.text, "{{{}}}", labels.join(","));
            }
            let _ = writeln!(self.text, " {value}");
        }
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_statuses_come_from_the_message() {
        let table = [
            ("HTTP 503 Service Unavailable: busy", false, "503"),
            ("Rejected: HTTP 401 Unauthorized: bad token", false, "401"),
            ("anything", true, "429"),
            ("slack said ratelimited", false, "429"),
            ("connection refused", false, "error"),
            ("HTTP xyz", false, "error"),
        ];
        for (message, rate_limited, status) in table {
            assert_eq!(error_status(message, rate_limited), status, "{message}");
        }
    }

    #[test]
    fn the_text_has_help_type_and_escaped_labels() {
        let metrics = Metrics::default();
        metrics.api_error("chat/a\"b", "HTTP 500 oops", false);
        metrics.api_error("chat/a\"b", "HTTP 500 again", false);
        metrics.chat_delivered("console", &OutboxTask::SyncCard);
        let mut stats = StoreStats::default();
        stats.ingested.insert("x".into(), 3);
        let text = render(&Scrape {
            metrics: &metrics,
            stats: &stats,
            outbox: &BTreeMap::new(),
            components: &BTreeMap::new(),
            now: Utc::now(),
        });
        for expected in [
            "# TYPE mentiondesk_mentions_ingested_total counter",
            "mentiondesk_mentions_ingested_total{network=\"x\"} 3",
            "mentiondesk_api_errors_total{service=\"chat/a\\\"b\",status=\"500\"} 2",
            "mentiondesk_cards_posted_total{chat=\"console\",kind=\"case\"} 1",
            "mentiondesk_sla_breaches_total 0",
        ] {
            assert!(
                text.lines().any(|line| line == expected),
                "{expected} in\n{text}"
            );
        }
    }
}
