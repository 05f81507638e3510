//! The weekly digest: last week's figures from `report` as a short text and a PNG chart
//! (daily complaints and median time to the first public reply), posted once a week to each
//! chat's digest channel.
//!
//! `compose` is the IO-light part: one range scan of the store's case summaries fed to
//! `report::ReportBuilder`s (the week's and one per local day; nothing is computed twice).
//! [`DigestTask`] is the timer: one task that sleeps until the next slot
//! ([`schedule::WeeklySchedule`]) and posts through `ChatAdapter::post_digest`. What was
//! posted is kept in the store (chat area `digest`, key `posted`: the ISO week and the chats
//! done), so a restart never posts a week twice and a bot that was down at the due time posts
//! once when it comes back the same week. A chat that keeps failing is retried with backoff
//! (honouring a rate limit's wait) and then reported to the ops channel.
//!
//! Exactly once across a crash: before a chat is sent the digest, the record says "posting
//! started at T in chat C" (flushed). A chat still marked started when the task comes back
//! (a crash, or an attempt whose answer was lost) is first asked whether the digest is
//! already there (`ChatAdapter::find_digest`, looking from T minus [`CLOCK_SKEW`]); found, it
//! is recorded as posted, otherwise it is posted.

pub mod chart;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::chat::{ChatAdapter, ChatError};
use crate::domain::Label;
use crate::health::OpsNotices;
use crate::report::{human, Report, ReportBuilder, ReportPeriod};
use crate::store::{Store, StoreError};

pub use schedule::{Slot, WeeklySchedule};

/// The chat-area namespace and key of what was posted.
const STATE_NAMESPACE: &str = "digest";
const STATE_KEY: &str = "posted";
/// Attempts per chat before the ops channel hears about it.
const ATTEMPTS: u32 = 5;
/// The first pause between attempts; doubled each time, at most [`MAX_RETRY_WAIT`].
const FIRST_RETRY_WAIT: Duration = Duration::from_secs(30);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10 * 60);
/// The timer re-reads the clock at least this often (the wall clock may step).
const MAX_SLEEP: Duration = Duration::from_secs(60 * 60);
/// How far before a recorded start a chat is searched for the digest: the chat's clock
/// (which stamps the message) may be behind ours.
pub const CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);

/// A digest, ready for any chat.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// Idempotency key: `digest-2026-W13`.
    pub key: String,
    /// The ISO week of the slot.
    pub week: String,
    /// One line: "Weekly digest, 16–22 Nov 2026".
    pub title: String,
    /// The figures, a few short lines (plain text).
    pub text: String,
    /// The chart's file name.
    pub filename: String,
    /// The chart, PNG.
    pub png: Vec<u8>,
}

/// The digest of `slot`: the cases opened in its seven days (`now` decides which deadlines
/// are still pending). Reads the store once and draws the chart: call it off the async threads.
pub fn compose(
    store: &Store,
    slot: &Slot,
    zone_name: &str,
    first_response: chrono::Duration,
    now: DateTime<Utc>,
    size: (u32, u32),
) -> Result<Digest, DigestError> {
    let period = |from, to| ReportPeriod {
        from,
        to,
        now,
        first_response,
    };
    let mut week = ReportBuilder::new(period(slot.from, slot.to));
    let mut days: Vec<ReportBuilder> = slot
        .days
        .windows(2)
        .map(|pair| ReportBuilder::new(period(pair[0].1, pair[1].1)))
        .collect();
    for summary in store.case_summaries(slot.from, slot.to) {
        let summary = summary?;
        week.add_summary(&summary);
        for day in &mut days {
            day.add_summary(&summary);
        }
    }
    let report = week.finish();
    let chart_days: Vec<chart::Day> = days
        .into_iter()
        .zip(&slot.days)
        .map(|(builder, (date, _))| {
            let day = builder.finish();
            chart::Day {
                label: date.strftime("%a %d").to_string(),
                complaints: complaints(&day),
                median_response_secs: day.time_to_first_response.median_secs,
            }
        })
        .collect();
    let (first, last) = (slot.days[0].0, slot.days[6].0);
    let title = format!(
        "Weekly digest, {} – {} ({zone_name})",
        first.strftime("%a %-d %b"),
        last.strftime("%a %-d %b %Y")
    );
    let png = chart::render(
        "Complaints per day and median time to first public reply",
        &chart_days,
        size.0,
        size.1,
    )?;
    Ok(Digest {
        key: format!("digest-{}", slot.week),
        week: slot.week.clone(),
        text: text(&report),
        title,
        filename: format!("mentiondesk-digest-{}.png", slot.week),
        png,
    })
}

fn complaints(report: &Report) -> u64 {
    report
        .volume
        .iter()
        .filter(|row| row.label == Label::Complaint.as_str())
        .map(|row| row.cases)
        .sum()
}

fn percent(rate: Option<f64>) -> String {
    rate.map(|rate| format!("{:.0}%", rate * 100.0))
        .unwrap_or_else(|| "-".to_string())
}

/// The digest's figures as a few short lines.
pub fn text(report: &Report) -> String {
    let mut by_network: Vec<(String, Vec<String>, u64)> = Vec::new();
    for row in &report.volume {
        match by_network
            .iter_mut()
            .find(|(network, _, _)| *network == row.network)
        {
            Some((_, labels, total)) => {
                labels.push(format!("{} {}", row.cases, row.label));
                *total += row.cases;
            }
            None => by_network.push((
                row.network.clone(),
                vec![format!("{} {}", row.cases, row.label)],
                row.cases,
            )),
        }
    }
    let volume = if by_network.is_empty() {
        "none".to_string()
    } else {
        by_network
            .iter()
            .map(|(network, labels, total)| format!("{network} {total} ({})", labels.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let response = &report.time_to_first_response;
    [
        format!("Cases: {} — {volume}", report.cases),
        format!(
            "First public reply: median {}, p90 {} ({} answered)",
            human(response.median_secs),
            human(response.p90_secs),
            response.count
        ),
        format!(
            "SLA (first reply within {}): {} met, {} missed, {} pending — {}",
            human(Some(report.sla_first_response_secs)),
            report.sla.met,
            report.sla.missed,
            report.sla.pending,
            percent(report.sla.rate)
        ),
        format!(
            "Resolved {} ({}), escalated {} ({})",
            report.resolved,
            percent(report.resolution_rate),
            report.escalated,
            percent(report.escalation_rate)
        ),
    ]
    .join("\n")
}

/// Why a digest could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] chart::ChartError),
}

/// The digest's slot from `[digest]`, in `[sla.business_hours]`'s zone when set, else
/// `[digest].timezone` (default UTC).
pub fn schedule_from_settings(
    settings: &crate::config::Settings,
) -> anyhow::Result<WeeklySchedule> {
    let digest = &settings.digest;
    let zone_name = settings
        .sla
        .business_hours
        .as_ref()
        .map(|hours| hours.timezone.trim().to_string())
        .or_else(|| digest.timezone.as_ref().map(|zone| zone.trim().to_string()))
        .unwrap_or_else(|| "UTC".to_string());
    let zone = jiff::tz::TimeZone::get(&zone_name)
        .map_err(|error| anyhow::anyhow!("digest: time zone {zone_name}: {error}"))?;
    Ok(WeeklySchedule {
        zone,
        zone_name,
        weekday: crate::domain::parse_weekday(&digest.weekday)
            .map_err(|error| anyhow::anyhow!("digest.weekday: {error}"))?,
        time: crate::domain::parse_clock_time(&digest.time)
            .map_err(|error| anyhow::anyhow!("digest.time: {error}"))?,
    })
}

/// What the store remembers: the week last posted, the chats that took it and those it was
/// being sent to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Posted {
    /// The ISO week.
    pub week: String,
    /// The chats done with it (posted, or given up on and reported).
    pub chats: Vec<String>,
    /// The chats it was sent to (or about to be) and not yet recorded as done: each may have
    /// it already, so it is looked for there before it is sent again.
    #[serde(default)]
    pub started: Vec<Started>,
}

/// A chat the digest was being posted to, and since when (our clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Started {
    /// The chat's name.
    pub chat: String,
    /// When the first attempt began.
    pub at: DateTime<Utc>,
}

impl Posted {
    /// When posting to `chat` began, if it did and is not done.
    pub fn started_at(&self, chat: &str) -> Option<DateTime<Utc>> {
        self.started
            .iter()
            .find(|started| started.chat == chat)
            .map(|started| started.at)
    }

    /// Marks `chat` done (posted, found, or given up on).
    fn done(&mut self, chat: &str) {
        self.started.retain(|started| started.chat != chat);
        self.chats.push(chat.to_string());
    }

    /// What the store says, if anything readable.
    pub fn load(store: &Store) -> Option<Posted> {
        match store.chat_get(STATE_NAMESPACE, STATE_KEY) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map_err(|error| {
                    tracing::warn!(error = %error, "Unreadable digest record in the store; ignoring it");
                })
                .ok(),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(error = %error, "Cannot read the digest record");
                None
            }
        }
    }

    async fn save(&self, store: &Store) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        store.chat_put(STATE_NAMESPACE, STATE_KEY, &bytes).await
    }
}

/// How a chat came to have the digest.
enum Delivery {
    /// Posted now.
    Posted,
    /// Already there (the message's id): an earlier attempt reached the chat.
    Found(String),
}

/// The weekly digest's timer task.
pub struct DigestTask {
    store: Store,
    schedule: WeeklySchedule,
    first_response: chrono::Duration,
    chats: Vec<(Arc<dyn ChatAdapter>, String)>,
    ops: OpsNotices,
    size: (u32, u32),
    anchor: (DateTime<Utc>, tokio::time::Instant),
}

impl DigestTask {
    /// A task posting to each `(chat, channel)`; failures go to `ops`.
    pub fn new(
        store: Store,
        schedule: WeeklySchedule,
        first_response: chrono::Duration,
        chats: Vec<(Arc<dyn ChatAdapter>, String)>,
        ops: OpsNotices,
    ) -> DigestTask {
        DigestTask {
            store,
            schedule,
            first_response,
            chats,
            ops,
            size: (chart::WIDTH, chart::HEIGHT),
            anchor: (Utc::now(), tokio::time::Instant::now()),
        }
    }

    /// The task `[digest]` asks for, posting to `chats` (each to its digest channel; a chat
    /// without one is left out). `None` when the digest is off or no chat has a channel.
    pub fn from_settings(
        settings: &crate::config::Settings,
        store: Store,
        chats: &[Arc<dyn ChatAdapter>],
    ) -> anyhow::Result<Option<DigestTask>> {
        let digest = &settings.digest;
        if !digest.enabled {
            return Ok(None);
        }
        let schedule = schedule_from_settings(settings)?;
        let targets: Vec<(Arc<dyn ChatAdapter>, String)> = chats
            .iter()
            .filter_map(|chat| {
                let channel = match chat.name() {
                    "console" => Some(digest.console_channel.clone()),
                    "slack" => digest.slack_channel.clone().or_else(|| {
                        settings.slack.as_ref().and_then(|s| s.ops_channel.clone())
                    }),
                    "discord" => digest.discord_channel.clone().or_else(|| {
                        settings.discord.as_ref().and_then(|d| d.ops_channel.clone())
                    }),
                    _ => None,
                };
                if channel.is_none() {
                    tracing::warn!(chat = chat.name(), "No digest channel (nor ops channel) for this chat; it gets no weekly digest");
                }
                channel.map(|channel| (chat.clone(), channel))
            })
            .collect();
        if targets.is_empty() {
            return Ok(None);
        }
        let ops = OpsNotices::default();
        ops.connect(chats);
        let first_response = chrono::Duration::from_std(settings.sla.first_response)
            .unwrap_or_else(|_| chrono::Duration::hours(1));
        Ok(Some(DigestTask::new(
            store,
            schedule,
            first_response,
            targets,
            ops,
        )))
    }

    /// Takes "now" to be `wall` at this instant of tokio's clock (paused-time tests).
    pub fn starting_at(mut self, wall: DateTime<Utc>) -> DigestTask {
        self.anchor = (wall, tokio::time::Instant::now());
        self
    }

    /// The chart's size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> DigestTask {
        self.size = (width, height);
        self
    }

    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.anchor.1);
        self.anchor.0 + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    /// Posts whenever a slot is due, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let now = self.now();
            tokio::select! {
                _ = self.post_if_due(now) => {}
                _ = stop.cancelled() => break,
            }
            let now = self.now();
            let next = self.schedule.next_due_after(now);
            let wait = (next - now).to_std().unwrap_or_default().min(MAX_SLEEP);
            tracing::debug!(next = %next, "Next weekly digest");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => break,
            }
        }
        tracing::debug!("Digest task stopped");
    }

    /// Posts this week's digest to every chat that has not had it, if its slot has come.
    pub async fn post_if_due(&self, now: DateTime<Utc>) {
        let slot = self.schedule.slot_at(now);
        if now < slot.due {
            return;
        }
        let mut posted = match Posted::load(&self.store) {
            Some(posted) if posted.week == slot.week => posted,
            _ => Posted {
                week: slot.week.clone(),
                ..Posted::default()
            },
        };
        let pending: Vec<&(Arc<dyn ChatAdapter>, String)> = self
            .chats
            .iter()
            .filter(|(chat, _)| !posted.chats.iter().any(|done| done == chat.name()))
            .collect();
        if pending.is_empty() {
            return;
        }
        let store = self.store.clone();
        let (zone, first_response, size) = (
            self.schedule.zone_name.clone(),
            self.first_response,
            self.size,
        );
        let composing = slot.clone();
        let digest = tokio::task::spawn_blocking(move || {
            compose(&store, &composing, &zone, first_response, now, size)
        })
        .await;
        let failure = match digest {
            Ok(Ok(digest)) => {
                self.deliver_all(&slot, &mut posted, pending, &digest).await;
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        // Not retried every hour with a notice each time: the week is given up on.
        self.give_up(&slot.week, "any chat", &failure).await;
        for (chat, _) in &pending {
            posted.done(chat.name());
        }
        if let Err(error) = posted.save(&self.store).await {
            tracing::error!(error = %error, "Cannot record the weekly digest as given up");
        }
    }

    async fn deliver_all(
        &self,
        slot: &Slot,
        posted: &mut Posted,
        pending: Vec<&(Arc<dyn ChatAdapter>, String)>,
        digest: &Digest,
    ) {
        for (chat, channel) in pending {
            // A start already recorded means an earlier attempt may have reached the chat.
            let (started, look_first) = match posted.started_at(chat.name()) {
                Some(at) => (at, true),
                None => {
                    let at = self.now();
                    posted.started.push(Started {
                        chat: chat.name().to_string(),
                        at,
                    });
                    if let Err(error) = posted.save(&self.store).await {
                        // Unrecorded, a post could not be found again after a crash: wait.
                        tracing::error!(chat = chat.name(), error = %error, "Cannot record the weekly digest as started; not posting it now");
                        posted.started.retain(|started| started.chat != chat.name());
                        continue;
                    }
                    (at, false)
                }
            };
            match self
                .deliver(chat.as_ref(), channel, digest, started, look_first)
                .await
            {
                Ok(Delivery::Posted) => {
                    crate::failpoint::hit(&format!("digest.{}.after_post", chat.name())).await;
                    tracing::info!(chat = chat.name(), channel = %channel, week = %slot.week, "Weekly digest posted");
                }
                Ok(Delivery::Found(message)) => {
                    tracing::info!(chat = chat.name(), channel = %channel, week = %slot.week, message = %message, "Weekly digest found posted before a restart; not posting it again");
                }
                Err(error) => {
                    self.give_up(&slot.week, chat.name(), &error.to_string())
                        .await;
                }
            }
            posted.done(chat.name());
            if let Err(error) = posted.save(&self.store).await {
                tracing::error!(error = %error, "Cannot record the weekly digest as posted");
            }
        }
    }

    /// Posts `digest` in `chat`, first looking for it there when an earlier attempt (started
    /// at `started`) may have reached it: with `look_first`, and after any failure but a
    /// refusal.
    async fn deliver(
        &self,
        chat: &dyn ChatAdapter,
        channel: &str,
        digest: &Digest,
        started: DateTime<Utc>,
        look_first: bool,
    ) -> Result<Delivery, ChatError> {
        let since = started - chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default();
        let mut look = look_first;
        let mut wait = FIRST_RETRY_WAIT;
        let mut attempt = 1;
        loop {
            let error = match self
                .attempt(chat, channel, digest, look.then_some(since))
                .await
            {
                Ok(delivery) => return Ok(delivery),
                Err(error @ ChatError::Rejected(_)) => return Err(error),
                Err(error) => error,
            };
            // The chat may have taken it and the answer been lost (a timeout, a cut
            // connection): look before the next attempt.
            look = true;
            if attempt >= ATTEMPTS {
                return Err(error);
            }
            let pause = match &error {
                ChatError::RateLimited { retry_after } => *retry_after,
                _ => wait,
            };
            tracing::warn!(chat = chat.name(), attempt, error = %error, "Weekly digest not posted; will retry");
            tokio::time::sleep(pause).await;
            wait = (wait * 2).min(MAX_RETRY_WAIT);
            attempt += 1;
        }
    }

    /// One attempt: look for an earlier post since `look_since` (when given), else post.
    async fn attempt(
        &self,
        chat: &dyn ChatAdapter,
        channel: &str,
        digest: &Digest,
        look_since: Option<DateTime<Utc>>,
    ) -> Result<Delivery, ChatError> {
        if let Some(since) = look_since {
            let found =
                chat.find_digest(channel, digest, since)
                    .await
                    .map_err(|error| match error {
                        // Said so: posting blind could post it twice (e.g. a missing history scope).
                        ChatError::Rejected(why) => ChatError::Rejected(format!(
                            "cannot check whether it was already posted: {why}"
                        )),
                        ChatError::Transient(why) => ChatError::Transient(format!(
                            "cannot check whether it was already posted: {why}"
                        )),
                        other => other,
                    })?;
            if let Some(message) = found {
                return Ok(Delivery::Found(message));
            }
        }
        crate::failpoint::hit(&format!("digest.{}.before_post", chat.name())).await;
        chat.post_digest(channel, digest).await?;
        Ok(Delivery::Posted)
    }

    async fn give_up(&self, week: &str, chat: &str, error: &str) {
        tracing::error!(chat, week, error, "Giving up on the weekly digest");
        self.ops
            .post(&format!(
                "The weekly digest ({week}) could not be posted to {chat}: {error}"
            ))
            .await;
    }
}
