//! The scheduler: one timer task for every case's response clocks.
//!
//! Two clocks per case: the first-response clock (from the case opening to the brand's first
//! public answer) and the next-response clock (from a follow-up by a customer we already
//! answered to our next public answer). Their deadlines are computed when they start, by the
//! pipeline through [`SlaPolicy`] (per-route targets, business hours), and stored on the case;
//! this task keeps them in a sorted set and sleeps until the next one, or until it is told
//! about a new clock (a `Notify`); it never spawns a task per case. When a deadline passes it
//! applies the warning or the breach to the case, which threads a note (a warning mentions
//! the owner, or the channel) and marks the card, unless the brand answered or the case was
//! closed meanwhile (the domain refuses, and the deadline is dropped). A breach also escalates
//! the case to `[sla].on_call` through the normal escalation path (linked card, thread note,
//! webhook, audit record), as the system actor "SLA", once per case. Deadlines are rebuilt
//! from the store on start.
//!
//! Time: the scheduler measures "now" as the wall-clock time at its start plus the monotonic
//! time elapsed since, so tests drive it with tokio's paused clock.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::{
    apply, deadline, Agent, BusinessHours, Case, CaseEvent, CaseId, Command, Label, Network,
    ResponseClock,
};
use crate::outbox::Outbox;
use crate::store::{Store, StoreError, Tx, TxError};

/// The agent id of the system actor that escalates on a breach and out of hours.
pub const SLA_AGENT_ID: &str = "system:sla";

/// The system actor that escalates on a breach and out of hours.
pub fn sla_agent() -> Agent {
    Agent::new(SLA_AGENT_ID, "SLA")
}

/// Which note a deadline brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Alarm {
    Warning,
    Breach,
    /// The warning of the next-response clock due at this time.
    NextWarning(DateTime<Utc>),
    /// The breach of the next-response clock due at this time.
    NextBreach(DateTime<Utc>),
}

type Deadline = (DateTime<Utc>, CaseId, Alarm);

/// The escalation target breaches and out-of-hours complaints go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    /// Its config id.
    pub id: String,
    /// Its label.
    pub label: String,
}

/// Other targets for the cases a `[[sla.routes]]` table matches.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaRoute {
    /// Only cases on this network.
    pub network: Option<Network>,
    /// Only cases from this source.
    pub source: Option<String>,
    /// Only cases whose opening post has this triage label.
    pub label: Option<Label>,
    /// The first-response target, if it differs.
    pub first_response: Option<chrono::Duration>,
    /// The next-response target, if it differs.
    pub next_response: Option<chrono::Duration>,
}

impl SlaRoute {
    /// Whether every key the route sets matches the case.
    pub fn matches(&self, case: &Case) -> bool {
        self.network.map_or(true, |network| network == case.network)
            && self
                .source
                .as_ref()
                .map_or(true, |source| *source == case.source)
            && self.label.map_or(true, |label| label == case.triage.label)
    }
}

/// What the pipeline and the scheduler need from `[sla]`.
#[derive(Debug, Clone)]
pub struct SlaPolicy {
    /// The first-response target.
    pub first_response: chrono::Duration,
    /// The share of a target after which the warning comes.
    pub warning_at: f32,
    /// The next-response target.
    pub next_response: chrono::Duration,
    /// When the team works; `None`: every hour counts.
    pub business_hours: Option<Arc<BusinessHours>>,
    /// Per-route targets; the first match wins.
    pub routes: Vec<SlaRoute>,
    /// Where breaches and out-of-hours complaints are escalated.
    pub on_call: Option<OnCall>,
}

impl SlaPolicy {
    /// A policy with these targets for every case (next response like first), every hour
    /// counting, and no on-call target.
    pub fn new(first_response: chrono::Duration, warning_at: f32) -> SlaPolicy {
        SlaPolicy {
            first_response,
            warning_at,
            next_response: first_response,
            business_hours: None,
            routes: Vec::new(),
            on_call: None,
        }
    }

    /// The policy `[sla]` describes. Expects validated settings (it reads the time zone
    /// database for `[sla.business_hours].timezone`).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<SlaPolicy> {
        let sla = &settings.sla;
        let duration = |value: std::time::Duration, key: &str| {
            chrono::Duration::from_std(value).with_context(|| format!("{key} is too long"))
        };
        let mut policy = SlaPolicy::new(
            duration(sla.first_response, "sla.first_response")?,
            sla.warning_at,
        );
        policy.next_response = duration(sla.next_response, "sla.next_response")?;
        if let Some(hours) = &sla.business_hours {
            let timezone = jiff::tz::TimeZone::get(hours.timezone.trim())
                .with_context(|| format!("sla.business_hours.timezone: {}", hours.timezone))?;
            let mut weekdays = [false; 7];
            for day in &hours.days {
                weekdays[crate::domain::parse_weekday(day).map_err(anyhow::Error::msg)?] = true;
            }
            let holidays = hours
                .holidays
                .iter()
                .map(|date| crate::domain::parse_date(date))
                .collect::<Result<_, _>>()
                .map_err(anyhow::Error::msg)?;
            policy.business_hours = Some(Arc::new(BusinessHours {
                timezone,
                timezone_name: hours.timezone.trim().to_string(),
                weekdays,
                open: crate::domain::parse_clock_time(&hours.opens).map_err(anyhow::Error::msg)?,
                close: crate::domain::parse_clock_time(&hours.closes)
                    .map_err(anyhow::Error::msg)?,
                holidays,
            }));
        }
        for (index, route) in sla.routes.iter().enumerate() {
            let key = format!("sla.routes[{index}]");
            policy.routes.push(SlaRoute {
                network: route
                    .network
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{key}.network"))?,
                source: route.source.clone(),
                label: route
                    .label
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("{key}.label"))?,
                first_response: route
                    .first_response
                    .map(|value| duration(value, &format!("{key}.first_response")))
                    .transpose()?,
                next_response: route
                    .next_response
                    .map(|value| duration(value, &format!("{key}.next_response")))
                    .transpose()?,
            });
        }
        policy.on_call = sla.on_call.as_ref().and_then(|id| {
            settings.escalation(id).map(|target| OnCall {
                id: target.id.clone(),
                label: target.label.clone(),
            })
        });
        Ok(policy)
    }

    /// When a case opened at `opened_at` with the global target is due.
    pub fn due_at(&self, opened_at: DateTime<Utc>) -> DateTime<Utc> {
        deadline(opened_at, self.first_response, self.hours())
    }

    /// The (first, next) response targets for a case: the first matching route's, else the
    /// global ones.
    pub fn targets(&self, case: &Case) -> (chrono::Duration, chrono::Duration) {
        let route = self.routes.iter().find(|route| route.matches(case));
        (
            route
                .and_then(|route| route.first_response)
                .unwrap_or(self.first_response),
            route
                .and_then(|route| route.next_response)
                .unwrap_or(self.next_response),
        )
    }

    /// Starts a new case's first-response clock: its deadline and warning time.
    pub fn start_first_response(&self, case: &mut Case) {
        let (target, _) = self.targets(case);
        let (warning_at, due_at) = self.clock(case.opened_at, target);
        case.first_response_due = Some(due_at);
        case.first_response_warning_at = Some(warning_at);
    }

    /// Starts the next-response clock of a case whose customer waits for our next answer,
    /// unless one runs already. Returns whether it started one.
    pub fn start_next_response(&self, case: &mut Case) -> bool {
        let Some(since) = case.awaiting_reply_since else {
            return false;
        };
        if case.next_response.is_some() || case.state.is_closed() {
            return false;
        }
        let (_, target) = self.targets(case);
        let (warning_at, due_at) = self.clock(since, target);
        case.next_response = Some(ResponseClock {
            started_at: since,
            warning_at,
            due_at,
            warned: false,
            breached: false,
        });
        true
    }

    /// Whether `at` is outside business hours (never, without them).
    pub fn is_out_of_hours(&self, at: DateTime<Utc>) -> bool {
        self.hours().is_some_and(|hours| !hours.is_open(at))
    }

    /// The escalation a complaint opened at `now` gets when it arrives out of hours and an
    /// on-call target is set.
    pub fn out_of_hours_escalation(&self, now: DateTime<Utc>) -> Option<Command> {
        let on_call = self.on_call.as_ref()?;
        let hours = self.hours()?;
        if hours.is_open(now) {
            return None;
        }
        let back = hours
            .next_open(now)
            .map(|at| format!("; the team is back {}", local_time(hours, at)))
            .unwrap_or_default();
        Some(Command::Escalate {
            by: sla_agent(),
            target: on_call.id.clone(),
            label: on_call.label.clone(),
            note: format!("arrived outside business hours{back}"),
        })
    }

    fn hours(&self) -> Option<&BusinessHours> {
        self.business_hours.as_deref()
    }

    /// (warning time, deadline) of a clock started at `start` with `target`.
    fn clock(
        &self,
        start: DateTime<Utc>,
        target: chrono::Duration,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let share = target.num_milliseconds() as f64 * f64::from(self.warning_at);
        let warning = chrono::Duration::milliseconds(share as i64);
        (
            deadline(start, warning, self.hours()),
            deadline(start, target, self.hours()),
        )
    }

    /// The warning time of a case stored before warning times were (wall-clock share).
    fn legacy_warning_time(&self, due_at: DateTime<Utc>) -> DateTime<Utc> {
        let lead =
            self.first_response.num_milliseconds() as f64 * (1.0 - f64::from(self.warning_at));
        due_at - chrono::Duration::milliseconds(lead as i64)
    }
}

/// "Mon 09 Mar 09:00 Europe/Berlin": a time as the team reads it.
fn local_time(hours: &BusinessHours, at: DateTime<Utc>) -> String {
    match jiff::Timestamp::from_millisecond(at.timestamp_millis()) {
        Ok(timestamp) => format!(
            "{} {}",
            timestamp
                .to_zoned(hours.timezone.clone())
                .strftime("%a %d %b %H:%M"),
            hours.timezone_name
        ),
        Err(_) => format!("{} UTC", at.format("%a %d %b %H:%M")),
    }
}

/// Records an escalation of `case` by the SLA actor in `tx`, appending its events to
/// `events` and its audit record; a case already escalated there (or closed) is left as is.
pub fn escalate_in(
    tx: &Tx,
    case: &mut Case,
    events: &mut Vec<CaseEvent>,
    command: Command,
    now: DateTime<Utc>,
) -> Result<bool, TxError> {
    match apply(case, command, now) {
        Ok(transition) => {
            tx.append_audit(&crate::domain::audit::records(
                case,
                &transition.case,
                &transition.events,
            ))?;
            *case = transition.case;
            events.extend(transition.events);
            Ok(true)
        }
        Err(refusal) => {
            tracing::info!(case = %case.id, refusal = %refusal, "No SLA escalation");
            Ok(false)
        }
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
        if case.first_response_due.is_some() || case.next_response.is_some() {
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

    /// Counts time from `wall` instead of the real clock (tests put "now" on a Friday evening).
    pub fn starting_at(mut self, wall: DateTime<Utc>) -> Scheduler {
        self.started_wall = wall;
        self.started = Instant::now();
        self
    }

    /// "Now" as the scheduler measures it (see the module docs).
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        self.started_wall + elapsed
    }

    fn add(&mut self, case: &Case) {
        if case.state.is_closed() {
            return;
        }
        if let Some(due_at) = case.first_response_due {
            if case.first_response_at.is_none() && !case.sla_breached {
                if !case.sla_warned {
                    let warning = case
                        .first_response_warning_at
                        .unwrap_or_else(|| self.policy.legacy_warning_time(due_at));
                    self.deadlines.insert((warning, case.id, Alarm::Warning));
                }
                self.deadlines.insert((due_at, case.id, Alarm::Breach));
            }
        }
        if let Some(clock) = case.next_response.filter(|clock| !clock.breached) {
            if !clock.warned {
                self.deadlines.insert((
                    clock.warning_at,
                    case.id,
                    Alarm::NextWarning(clock.due_at),
                ));
            }
            self.deadlines
                .insert((clock.due_at, case.id, Alarm::NextBreach(clock.due_at)));
        }
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
            self.deadlines.remove(&(at, case_id, alarm));
            let breach_due_too = match alarm {
                Alarm::Warning => self.deadlines.iter().any(|&(other_at, other_case, other)| {
                    other_case == case_id && other == Alarm::Breach && other_at <= now
                }),
                Alarm::NextWarning(due_at) => due_at <= now,
                Alarm::Breach | Alarm::NextBreach(_) => false,
            };
            if breach_due_too {
                // After downtime both may be due: "overdue" alone says it.
                continue;
            }
            let (command, breach) = match alarm {
                Alarm::Warning => (Command::SlaWarning, None),
                Alarm::Breach => (Command::SlaBreach, Some("first response")),
                Alarm::NextWarning(due_at) => (Command::NextResponseWarning { due_at }, None),
                Alarm::NextBreach(due_at) => (
                    Command::NextResponseBreach { due_at },
                    Some("next response"),
                ),
            };
            let outbox = &self.outbox;
            let on_call = self.policy.on_call.clone();
            let zone = self.policy.hours().map(|hours| &hours.timezone);
            let overdue_since = crate::domain::event::due_text(at, zone);
            let applied = self.store.transact(|tx| {
                let Some(case) = tx.case(case_id)? else {
                    return Ok(false);
                };
                let transition = match apply(&case, command.clone(), now) {
                    Ok(transition) => transition,
                    // Answered, closed, or noted already: the deadline simply lapses.
                    Err(_) => return Ok(false),
                };
                let mut next = transition.case;
                let mut events = transition.events;
                if let (Some(clock), Some(on_call)) = (breach, &on_call) {
                    let escalate = Command::Escalate {
                        by: sla_agent(),
                        target: on_call.id.clone(),
                        label: on_call.label.clone(),
                        note: format!("{clock} overdue since {overdue_since}"),
                    };
                    escalate_in(tx, &mut next, &mut events, escalate, now)?;
                }
                tx.put_case(&next)?;
                tx.append_events(&events)?;
                outbox.enqueue_effects(tx, &next, &events, now)?;
                Ok(true)
            })?;
            if applied {
                tracing::info!(case = %case_id, alarm = ?alarm, "Response clock");
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
                        tracing::error!(error = %error, "Cannot record a response-clock note");
                    }
                }
                _ = shared.wake.notified() => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::debug!("Scheduler stopped");
    }
}
