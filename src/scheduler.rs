//! The scheduler: one timer task for every case's first-response clock.
//!
//! It keeps the deadlines in a sorted set and sleeps until the next one, or until it is told
//! about a new case (a `Notify`); it never spawns a task per case. When a deadline passes it
//! applies `SlaWarning` or `SlaBreach` to the case, which threads a note and marks the card,
//! unless the brand answered or the case was closed meanwhile (the domain refuses, and the
//! deadline is dropped). Deadlines are rebuilt from the store on start.
//!
//! Time: the scheduler measures "now" as the wall-clock time at its start plus the monotonic
//! time elapsed since, so tests drive it with tokio's paused clock.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::domain::{apply, Case, CaseId, Command};
use crate::outbox::Outbox;
use crate::store::{Store, StoreError};

/// Which note a deadline brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Alarm {
    Warning,
    Breach,
}

type Deadline = (DateTime<Utc>, CaseId, Alarm);

/// What the scheduler needs from `[sla]`.
#[derive(Debug, Clone, Copy)]
pub struct SlaPolicy {
    /// The first-response target.
    pub first_response: chrono::Duration,
    /// The share of the target after which the warning comes.
    pub warning_at: f32,
}

impl SlaPolicy {
    /// When a case opened at `opened_at` is due.
    pub fn due_at(&self, opened_at: DateTime<Utc>) -> DateTime<Utc> {
        opened_at + self.first_response
    }

    fn warning_time(&self, due_at: DateTime<Utc>) -> DateTime<Utc> {
        let lead =
            self.first_response.num_milliseconds() as f64 * (1.0 - f64::from(self.warning_at));
        due_at - chrono::Duration::milliseconds(lead as i64)
    }
}

#[derive(Debug, Default)]
struct Shared {
    incoming: Mutex<Vec<Case>>,
    wake: Notify,
}

/// Tells the scheduler about new cases. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SchedulerHandle {
    shared: Arc<Shared>,
}

impl SchedulerHandle {
    /// Starts watching a case's clock (call after the case is flushed).
    pub fn watch(&self, case: &Case) {
        if case.first_response_due.is_some() {
            self.shared
                .incoming
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(case.clone());
            self.shared.wake.notify_one();
        }
    }
}

/// The timer task's state.
pub struct Scheduler {
    store: Store,
    outbox: Outbox,
    policy: SlaPolicy,
    deadlines: BTreeSet<Deadline>,
    handle: SchedulerHandle,
    started_wall: DateTime<Utc>,
    started: Instant,
}

impl Scheduler {
    /// A scheduler over `store`; call `load` before `run` to pick up existing cases.
    pub fn new(store: Store, outbox: Outbox, policy: SlaPolicy) -> Scheduler {
        Scheduler {
            store,
            outbox,
            policy,
            deadlines: BTreeSet::new(),
            handle: SchedulerHandle::default(),
            started_wall: Utc::now(),
            started: Instant::now(),
        }
    }

    /// The handle the pipeline uses to announce new cases.
    pub fn handle(&self) -> SchedulerHandle {
        self.handle.clone()
    }

    /// Rebuilds the deadlines of every case whose clock still runs.
    pub fn load(&mut self) -> Result<usize, StoreError> {
        let store = self.store.clone();
        for case in store.cases() {
            self.add(&case?);
        }
        Ok(self.deadlines.len())
    }

    /// How many deadlines are waiting.
    pub fn pending(&self) -> usize {
        self.deadlines.len()
    }

    /// "Now" as the scheduler measures it (see the module docs).
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        self.started_wall + elapsed
    }

    fn add(&mut self, case: &Case) {
        let Some(due_at) = case.first_response_due else {
            return;
        };
        if case.first_response_at.is_some() || case.state.is_closed() || case.sla_breached {
            return;
        }
        if !case.sla_warned {
            let warning = self.policy.warning_time(due_at);
            self.deadlines.insert((warning, case.id, Alarm::Warning));
        }
        self.deadlines.insert((due_at, case.id, Alarm::Breach));
    }

    fn take_incoming(&mut self) {
        let incoming = std::mem::take(
            &mut *self
                .handle
                .shared
                .incoming
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for case in incoming {
            self.add(&case);
        }
    }

    /// Applies every deadline at or before `now`. Returns how many notes were recorded.
    pub async fn fire_due(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.take_incoming();
        let mut recorded = 0;
        while let Some(&(at, case_id, alarm)) = self.deadlines.first() {
            if at > now {
                break;
            }
            let breach_due_too = alarm == Alarm::Warning
                && self
                    .deadlines
                    .iter()
                    .any(|&(other_at, other_case, other_alarm)| {
                        other_case == case_id && other_alarm == Alarm::Breach && other_at <= now
                    });
            if breach_due_too {
                // After downtime both may be due: "overdue" alone says it.
                self.deadlines.remove(&(at, case_id, alarm));
                continue;
            }
            let command = match alarm {
                Alarm::Warning => Command::SlaWarning,
                Alarm::Breach => Command::SlaBreach,
            };
            let outbox = &self.outbox;
            let applied = self.store.transact(|tx| {
                let Some(case) = tx.case(case_id)? else {
                    return Ok(false);
                };
                match apply(&case, command.clone(), now) {
                    Ok(transition) => {
                        tx.put_case(&transition.case)?;
                        tx.append_events(&transition.events)?;
                        outbox.enqueue_effects(tx, &transition.case, &transition.events, now)?;
                        Ok(true)
                    }
                    // Answered, closed, or noted already: the deadline simply lapses.
                    Err(_) => Ok(false),
                }
            })?;
            self.deadlines.remove(&(at, case_id, alarm));
            if applied {
                tracing::info!(case = %case_id, alarm = ?alarm, "First-response clock");
                recorded += 1;
            }
        }
        if recorded > 0 {
            self.store.flush().await?;
            self.outbox.wake_all();
        }
        Ok(recorded)
    }

    /// Sleeps until the next deadline or a new case, fires what is due, until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let shared = self.handle.shared.clone();
        loop {
            self.take_incoming();
            let sleep = match self.deadlines.first() {
                Some(&(at, _, _)) => (at - self.now()).to_std().unwrap_or_default(),
                None => std::time::Duration::from_secs(24 * 60 * 60),
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {
                    let now = self.now();
                    if let Err(error) = self.fire_due(now).await {
                        tracing::error!(error = %error, "Cannot record a first-response note");
                    }
                }
                _ = shared.wake.notified() => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::debug!("Scheduler stopped");
    }
}
