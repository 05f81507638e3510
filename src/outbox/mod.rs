//! The outbox: side effects recorded with the state change that implies them, executed later.
//!
//! A transaction that changes a case also queues what must happen because of it (edit the
//! card, thread a note, post the public reply) in lanes: `chat/<name>` per chat adapter and
//! `reply/<source>` per source. One worker per lane executes entries in order and removes each
//! in the same transaction that records its result. A crash at any point leaves the entry in
//! place, and executing it again is safe because every executor is idempotent (adapters and
//! sources dedupe on the key they are given). This is what makes restarts safe.

mod chat;
mod reply;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use chat::ChatExecutor;
pub use reply::ReplyExecutor;
pub use webhook::{WebhookExecutor, WebhookTarget, WEBHOOK_LANE};

use crate::domain::{Case, CaseEvent, CaseId, EventKind};
use crate::health::Health;
use crate::store::{OutboxEntry, OutboxKey, OutboxTask, Store, Tx, TxError};

/// The lane of a chat adapter.
pub fn chat_lane(chat: &str) -> String {
    format!("chat/{chat}")
}

/// The lane of a source's public replies.
pub fn reply_lane(source: &str) -> String {
    format!("reply/{source}")
}

/// The longest pause between retries of a failing entry.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Queues side effects and wakes the workers. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    chats: Arc<Vec<String>>,
    webhook_targets: Arc<Vec<String>>,
    wakers: Arc<HashMap<String, Arc<Notify>>>,
}

impl Outbox {
    /// An outbox for these chats and sources (by name).
    pub fn new(chats: &[String], sources: &[String]) -> Outbox {
        let lanes = chats
            .iter()
            .map(|chat| chat_lane(chat))
            .chain(sources.iter().map(|source| reply_lane(source)));
        Outbox {
            chats: Arc::new(chats.to_vec()),
            webhook_targets: Arc::new(Vec::new()),
            wakers: Arc::new(
                lanes
                    .chain(std::iter::once(WEBHOOK_LANE.to_string()))
                    .map(|lane| (lane, Arc::new(Notify::new())))
                    .collect(),
            ),
        }
    }

    /// Also calls the webhooks of these escalation targets (by config id) on escalation.
    pub fn with_webhooks(mut self, targets: &[String]) -> Outbox {
        self.webhook_targets = Arc::new(targets.to_vec());
        self
    }

    /// Queues, for every chat, what `events` imply: the card synced to the case, one thread
    /// note per event, and a linked card per escalation.
    pub fn enqueue_effects(
        &self,
        tx: &Tx,
        case: &Case,
        events: &[CaseEvent],
        now: DateTime<Utc>,
    ) -> Result<(), TxError> {
        for event in events {
            if let EventKind::Escalated { target, .. } = &event.kind {
                if self.webhook_targets.contains(target) {
                    tx.enqueue(
                        WEBHOOK_LANE,
                        &OutboxEntry {
                            case: case.id,
                            task: OutboxTask::Webhook {
                                target: target.clone(),
                            },
                            attempts: 0,
                            last_error: None,
                            created_at: now,
                        },
                    )?;
                }
            }
        }
        for chat in self.chats.iter() {
            let lane = chat_lane(chat);
            let entry = |task| OutboxEntry {
                case: case.id,
                task,
                attempts: 0,
                last_error: None,
                created_at: now,
            };
            tx.enqueue(&lane, &entry(OutboxTask::SyncCard))?;
            for event in events {
                match &event.kind {
                    // The card itself says the case opened.
                    EventKind::Opened { .. } => continue,
                    EventKind::Escalated { target, .. } => {
                        tx.enqueue(&lane, &entry(OutboxTask::ThreadNote { seq: event.seq }))?;
                        tx.enqueue(
                            &lane,
                            &entry(OutboxTask::EscalationCard {
                                target: target.clone(),
                            }),
                        )?;
                    }
                    _ => tx.enqueue(&lane, &entry(OutboxTask::ThreadNote { seq: event.seq }))?,
                }
            }
        }
        Ok(())
    }

    /// Queues, for every chat, posting or editing a kudos card (chats without a kudos channel
    /// drop the entry). The entry's case is unused: `CaseId(0)`.
    pub fn enqueue_kudos(&self, tx: &Tx, kudos: u64, now: DateTime<Utc>) -> Result<(), TxError> {
        for chat in self.chats.iter() {
            tx.enqueue(
                &chat_lane(chat),
                &OutboxEntry {
                    case: crate::domain::CaseId(0),
                    task: OutboxTask::KudosCard { kudos },
                    attempts: 0,
                    last_error: None,
                    created_at: now,
                },
            )?;
        }
        Ok(())
    }

    /// Queues the case's pending public reply on its source's lane.
    pub fn enqueue_reply(&self, tx: &Tx, case: &Case, now: DateTime<Utc>) -> Result<(), TxError> {
        if let Some(pending) = &case.pending_reply {
            tx.enqueue(
                &reply_lane(&case.source),
                &OutboxEntry {
                    case: case.id,
                    task: OutboxTask::PublicReply {
                        reply_id: pending.reply_id.clone(),
                    },
                    attempts: 0,
                    last_error: None,
                    created_at: now,
                },
            )?;
        }
        Ok(())
    }

    /// Wakes every worker. Call after the transaction that queued entries is flushed.
    pub fn wake_all(&self) {
        for waker in self.wakers.values() {
            waker.notify_one();
        }
    }

    fn waker(&self, lane: &str) -> Arc<Notify> {
        self.wakers
            .get(lane)
            .cloned()
            .unwrap_or_else(|| Arc::new(Notify::new()))
    }
}

/// Why an entry could not be executed this time.
#[derive(Debug)]
pub struct Retry {
    /// What went wrong.
    pub message: String,
    /// How long the other side asked us to wait, if it did.
    pub after: Option<Duration>,
    /// Retrying won't help; after a few attempts the entry is set aside.
    pub permanent: bool,
}

/// How many times a permanently failing entry is tried before it is set aside.
const PERMANENT_ATTEMPTS: u32 = 3;

/// Something that executes the entries of one lane.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    /// The lane.
    fn lane(&self) -> String;

    /// Executes one entry and, on success, removes it in the same transaction that records
    /// the result.
    async fn execute(&self, key: &OutboxKey, entry: &OutboxEntry) -> Result<(), Retry>;
}

/// How many of a lane's first entries a worker looks through for one it may execute now.
const LANE_SCAN: usize = 256;

/// Runs a lane's worker until `stop`, or until `drain` is cancelled and the lane is empty.
///
/// Entries of one case (or one kudos card: [`Subject`]) run in order. When an entry fails,
/// its subject is held until the retry is due and the worker goes on with other subjects, so one card Slack or Discord keeps
/// refusing does not hold up every other case's card. When the next case fails too, the
/// chat (or network) itself is failing and the whole lane waits, as it does for a rate limit
/// (an answer with `Retry-After`): an outage is not hammered once per queued case.
pub async fn run_lane(
    executor: Arc<dyn Executor>,
    store: Store,
    outbox: Outbox,
    health: Health,
    drain: CancellationToken,
    stop: CancellationToken,
) {
    let lane = executor.lane();
    let waker = outbox.waker(&lane);
    health.register(&lane);
    let mut held: HashMap<Subject, tokio::time::Instant> = HashMap::new();
    let mut failed_in_a_row = 0u32;
    loop {
        let now = tokio::time::Instant::now();
        held.retain(|_, until| *until > now);
        let (waiting, next) = match store.outbox_lane(&lane, LANE_SCAN) {
            Ok(entries) => (
                !entries.is_empty(),
                entries
                    .into_iter()
                    .find(|(_, entry)| !held.contains_key(&Subject::of(entry))),
            ),
            Err(error) => {
                tracing::error!(lane = %lane, error = %error, "Cannot read the outbox");
                health.error(&lane, &error.to_string());
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stop.cancelled() => break,
                }
            }
        };
        let Some((key, entry)) = next else {
            if let Some(until) = held.values().min().copied().filter(|_| waiting) {
                // Everything queued belongs to a held case: wait for the first retry.
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => continue,
                    _ = waker.notified() => continue,
                    _ = stop.cancelled() => break,
                }
            }
            if drain.is_cancelled() {
                break;
            }
            tokio::select! {
                _ = waker.notified() => continue,
                _ = drain.cancelled() => continue,
                _ = stop.cancelled() => break,
            }
        };
        let kind = lane.split('/').next().unwrap_or("lane");
        crate::failpoint::hit(&format!("{kind}.before_execute")).await;
        let result = tokio::select! {
            result = executor.execute(&key, &entry) => result,
            _ = stop.cancelled() => break,
        };
        match result {
            Ok(()) => {
                failed_in_a_row = 0;
                health.ok(&lane);
                if let Some(chat) = lane.strip_prefix("chat/") {
                    health.metrics().chat_delivered(chat, &entry.task);
                }
            }
            Err(retry) => {
                failed_in_a_row += 1;
                health.error(&lane, &retry.message);
                health
                    .metrics()
                    .api_error(&lane, &retry.message, retry.after.is_some());
                let subject = Subject::of(&entry);
                let wait = handle_retry(&store, &lane, &key, entry, &retry);
                if wait.is_zero() {
                    continue;
                }
                held.insert(subject, tokio::time::Instant::now() + wait);
                if retry.after.is_none() && failed_in_a_row < 2 {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => break,
                }
            }
        }
    }
    tracing::debug!(lane = %lane, "Outbox worker stopped");
}

/// What an entry is about: its case, or its kudos card (a kudos entry's case is the unused
/// `CaseId(0)`, shared by every kudos entry). A lane keeps one subject's entries in order and
/// holds a failing subject without holding the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A case's card, notes and escalation cards.
    Case(CaseId),
    /// One kudos card.
    Kudos(u64),
}

impl Subject {
    /// The subject of `entry`.
    pub fn of(entry: &OutboxEntry) -> Subject {
        match &entry.task {
            OutboxTask::KudosCard { kudos } => Subject::Kudos(*kudos),
            _ => Subject::Case(entry.case),
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Case(case) => write!(f, "case {case}"),
            Subject::Kudos(kudos) => write!(f, "kudos #{kudos}"),
        }
    }
}

/// What an entry is about, for logs: `case #7`, or `kudos #3`.
pub fn subject(entry: &OutboxEntry) -> String {
    Subject::of(entry).to_string()
}

/// Removes an entry that needs no more work, durably.
async fn finish(store: &Store, key: &OutboxKey) -> Result<(), Retry> {
    store
        .transact(|tx| tx.complete(key))
        .map_err(chat::store_retry)?;
    store.flush().await.map_err(chat::store_retry)
}

fn handle_retry(
    store: &Store,
    lane: &str,
    key: &OutboxKey,
    mut entry: OutboxEntry,
    retry: &Retry,
) -> Duration {
    entry.attempts += 1;
    entry.last_error = Some(retry.message.clone());
    let bury = retry.permanent && entry.attempts >= PERMANENT_ATTEMPTS;
    let written = store.transact(|tx| {
        if bury {
            tx.bury(key, lane, &entry)
        } else {
            tx.update_entry(key, &entry)
        }
    });
    if bury {
        tracing::error!(lane, about = %subject(&entry), task = ?entry.task, error = %retry.message, "Giving up on an outbox entry; it is kept under dead/ for inspection");
    } else {
        tracing::warn!(lane, about = %subject(&entry), attempts = entry.attempts, error = %retry.message, "Outbox entry failed; will retry");
    }
    if let Err(error) = written {
        tracing::error!(lane, error = %error, "Cannot record the failed attempt");
    }
    if bury {
        return Duration::ZERO;
    }
    retry.after.unwrap_or_else(|| {
        let exponent = entry.attempts.min(6);
        (Duration::from_millis(500) * 2u32.pow(exponent)).min(MAX_RETRY_WAIT)
    })
}

#[cfg(test)]
mod subject_tests {
    use super::*;

    fn entry(case: u64, task: OutboxTask) -> OutboxEntry {
        OutboxEntry {
            case: CaseId(case),
            task,
            attempts: 0,
            last_error: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_kudos_entry_is_named_by_its_kudos_not_case_0() {
        assert_eq!(
            subject(&entry(0, OutboxTask::KudosCard { kudos: 3 })),
            "kudos #3"
        );
        assert_eq!(subject(&entry(7, OutboxTask::SyncCard)), "case #7");
    }

    #[test]
    fn kudos_entries_are_subjects_of_their_own() {
        let first = Subject::of(&entry(0, OutboxTask::KudosCard { kudos: 1 }));
        let second = Subject::of(&entry(0, OutboxTask::KudosCard { kudos: 2 }));
        assert_ne!(first, second, "two kudos cards are held apart");
        assert_eq!(
            first,
            Subject::of(&entry(0, OutboxTask::KudosCard { kudos: 1 })),
            "one kudos card's entries stay in order"
        );
        assert_ne!(first, Subject::of(&entry(1, OutboxTask::SyncCard)));
        assert_eq!(
            Subject::of(&entry(0, OutboxTask::SyncCard)),
            Subject::Case(CaseId(0))
        );
    }
}
