//! Spike alerts: complaint volume, overall and per configured keyword, against its usual level.
//!
//! [`SpikeDetector`] is pure (it is given the time): complaints are counted per bucket; when a
//! bucket closes, each topic's count is compared with its usual volume, an exponentially
//! weighted moving average (EWMA) of the buckets before. A count of at least `factor` times
//! the usual volume (and at least `min_count`) starts a spike: **one** alert, with the count
//! and a few sample posts. The usual volume is frozen while the spike lasts, so the spike
//! does not become the norm; the first bucket below the threshold ends it with **one**
//! recovery notice. A topic that alerted stays quiet for `cooldown`. When keywords spike,
//! the overall volume's own alert of the same bucket is left out (it would say the same).
//!
//! [`SpikeHandle`] shares a detector between the pipeline (which counts each complaint it
//! stores) and [`run`], the task that closes buckets on a timer and posts the notices through
//! `ChatAdapter::post_notice`. Its clock is the start wall-clock time plus tokio's monotonic
//! time, so tests drive it with paused time. After each bucket it closes, [`run`] saves the
//! detector's [`SpikeState`] (usual volumes, warm-up progress, spikes under way, last alerts)
//! in the store, once per bucket, never per complaint; [`SpikeHandle::load`] restores it on
//! start, so a restart neither warms up again nor forgets a spike under way (no second
//! alert, and its recovery notice still comes). The open bucket's count is not saved: a new
//! bucket starts at the restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::chat::ChatAdapter;
use crate::config::SpikeSettings;
use crate::domain::text::{mask_pii, truncate_chars};
use crate::store::{Store, StoreError};

/// How many sample posts an alert quotes.
const SAMPLES: usize = 3;
/// The longest quote of a sample post, in characters.
const SAMPLE_CHARS: usize = 140;
/// The name of the overall volume.
const OVERALL: &str = "all complaints";

/// What the detector needs from config (`[triage.spike]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeRules {
    /// Topics watched beside the overall volume, lowercased.
    pub keywords: Vec<String>,
    /// The bucket length.
    pub bucket: Duration,
    /// A spike is at least this many times the usual volume.
    pub factor: f32,
    /// And at least this many complaints.
    pub min_count: u32,
    /// The newest bucket's weight in the usual volume.
    pub smoothing: f32,
    /// Buckets counted before the first alert.
    pub warmup: u32,
    /// Quiet time after an alert.
    pub cooldown: Duration,
}

impl From<&SpikeSettings> for SpikeRules {
    fn from(settings: &SpikeSettings) -> Self {
        SpikeRules {
            keywords: settings
                .keywords
                .iter()
                .map(|keyword| keyword.trim().to_lowercase())
                .filter(|keyword| !keyword.is_empty())
                .collect(),
            bucket: settings.bucket,
            factor: settings.factor,
            min_count: settings.min_count,
            smoothing: settings.smoothing,
            warmup: settings.warmup,
            cooldown: settings.cooldown,
        }
    }
}

impl Default for SpikeRules {
    fn default() -> Self {
        SpikeRules::from(&SpikeSettings::default())
    }
}

/// One topic's counts.
#[derive(Debug, Clone, PartialEq)]
struct Topic {
    name: String,
    /// Its keyword; `None` for the overall volume.
    keyword: Option<String>,
    /// The usual volume per bucket (EWMA).
    usual: f32,
    /// Buckets counted into `usual`.
    buckets: u32,
    /// The open bucket's count.
    count: u32,
    /// The open bucket's first posts: (handle, text).
    samples: Vec<(String, String)>,
    /// A spike is under way; `silent` when its alert was left out.
    spiking: Option<Spiking>,
    /// When the topic last alerted.
    last_alert: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Spiking {
    silent: bool,
}

/// What the detector keeps across a restart (the `spike` record of the store): per topic,
/// keyed by its keyword (`None` for the overall volume), everything but the open bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeState {
    topics: Vec<TopicState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TopicState {
    keyword: Option<String>,
    usual: f32,
    buckets: u32,
    spiking: Option<Spiking>,
    last_alert: Option<DateTime<Utc>>,
}

/// Counts complaints per topic and bucket and decides the alerts. Pure: the caller gives the
/// time.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeDetector {
    rules: SpikeRules,
    topics: Vec<Topic>,
    bucket_start: DateTime<Utc>,
}

impl SpikeDetector {
    /// A detector whose first bucket starts at `now`.
    pub fn new(rules: SpikeRules, now: DateTime<Utc>) -> SpikeDetector {
        let topic = |name: String, keyword: Option<String>| Topic {
            name,
            keyword,
            usual: 0.0,
            buckets: 0,
            count: 0,
            samples: Vec::new(),
            spiking: None,
            last_alert: None,
        };
        let mut topics = vec![topic(OVERALL.to_string(), None)];
        for keyword in &rules.keywords {
            topics.push(topic(format!("“{keyword}”"), Some(keyword.clone())));
        }
        SpikeDetector {
            rules,
            topics,
            bucket_start: now,
        }
    }

    /// A detector restored from `state`, its first bucket starting at `now`. Topics are
    /// matched by keyword: a keyword no longer configured is dropped, a new one warms up.
    pub fn restore(rules: SpikeRules, state: &SpikeState, now: DateTime<Utc>) -> SpikeDetector {
        let mut detector = SpikeDetector::new(rules, now);
        for topic in &mut detector.topics {
            if let Some(saved) = state.topics.iter().find(|t| t.keyword == topic.keyword) {
                topic.usual = saved.usual;
                topic.buckets = saved.buckets;
                topic.spiking = saved.spiking;
                topic.last_alert = saved.last_alert;
            }
        }
        detector
    }

    /// What to save so that a restart goes on from here.
    pub fn state(&self) -> SpikeState {
        SpikeState {
            topics: self
                .topics
                .iter()
                .map(|topic| TopicState {
                    keyword: topic.keyword.clone(),
                    usual: topic.usual,
                    buckets: topic.buckets,
                    spiking: topic.spiking,
                    last_alert: topic.last_alert,
                })
                .collect(),
        }
    }

    /// Counts a complaint in the open bucket: overall, and for each keyword its text contains.
    pub fn observe(&mut self, author_handle: &str, text: &str) {
        let lower = text.to_lowercase();
        for topic in &mut self.topics {
            let counts = match &topic.keyword {
                None => true,
                Some(keyword) => lower.contains(keyword.as_str()),
            };
            if counts {
                topic.count += 1;
                if topic.samples.len() < SAMPLES {
                    topic
                        .samples
                        .push((author_handle.to_string(), text.to_string()));
                }
            }
        }
    }

    /// When the open bucket closes.
    pub fn next_close(&self) -> DateTime<Utc> {
        self.bucket_start + bucket_length(&self.rules)
    }

    /// Closes every bucket that ended by `now`; returns the notices to post, in order.
    pub fn close_due(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let length = bucket_length(&self.rules);
        let mut notices = Vec::new();
        let mut closed = 0u32;
        while now >= self.next_close() {
            let closed_at = self.next_close();
            notices.extend(self.close_bucket(closed_at));
            self.bucket_start = closed_at;
            closed += 1;
            if closed >= 10_000 {
                // Asleep for ages (a suspended machine): empty buckets say nothing new.
                let behind = (now - self.bucket_start).num_milliseconds().max(0);
                let skip = behind / length.num_milliseconds().max(1);
                self.bucket_start += length * skip as i32;
                closed = 0;
            }
        }
        notices
    }

    fn close_bucket(&mut self, closed_at: DateTime<Utc>) -> Vec<String> {
        let rules = self.rules.clone();
        let cooldown = chrono::Duration::from_std(rules.cooldown).unwrap_or(chrono::Duration::MAX);
        let period = humantime::format_duration(rules.bucket).to_string();
        let mut alerts: Vec<(usize, String)> = Vec::new();
        let mut recoveries = Vec::new();
        for (index, topic) in self.topics.iter_mut().enumerate() {
            let threshold = (rules.factor * topic.usual).max(rules.min_count as f32);
            let count = topic.count;
            let is_spike = count as f32 >= threshold;
            match topic.spiking {
                Some(spiking) if !is_spike => {
                    if !spiking.silent {
                        recoveries.push(format!(
                            "✅ Complaint volume for {} is back to normal: {count} in the last {period} (usual {:.1})",
                            topic.name, topic.usual
                        ));
                    }
                    topic.spiking = None;
                    learn(topic, rules.smoothing);
                }
                Some(_) => {}
                None => {
                    let warmed_up = topic.buckets >= rules.warmup;
                    let cooled_down = topic.last_alert.is_none_or_elapsed(closed_at, cooldown);
                    if is_spike && warmed_up && cooled_down {
                        let mut text = format!(
                            "📈 Complaint spike for {}: {count} in the last {period} (usual {:.1}). Samples:",
                            topic.name, topic.usual
                        );
                        for (handle, sample) in &topic.samples {
                            text.push_str(&format!(
                                "\n• @{handle}: “{}”",
                                truncate_chars(&mask_pii(sample.trim()), SAMPLE_CHARS)
                            ));
                        }
                        alerts.push((index, text));
                        topic.spiking = Some(Spiking { silent: false });
                        topic.last_alert = Some(closed_at);
                    } else {
                        learn(topic, rules.smoothing);
                    }
                }
            }
            topic.count = 0;
            topic.samples.clear();
        }
        // A keyword alert says more than the overall one of the same bucket.
        if alerts.len() > 1 && alerts[0].0 == 0 {
            alerts.remove(0);
            if let Some(overall) = self.topics[0].spiking.as_mut() {
                overall.silent = true;
            }
        }
        recoveries
            .into_iter()
            .chain(alerts.into_iter().map(|(_, text)| text))
            .collect()
    }
}

/// Adds the closed bucket's count to the topic's usual volume.
fn learn(topic: &mut Topic, smoothing: f32) {
    let count = topic.count as f32;
    topic.usual = if topic.buckets == 0 {
        count
    } else {
        smoothing * count + (1.0 - smoothing) * topic.usual
    };
    topic.buckets = topic.buckets.saturating_add(1);
}

fn bucket_length(rules: &SpikeRules) -> chrono::Duration {
    chrono::Duration::from_std(rules.bucket)
        .unwrap_or(chrono::Duration::MAX)
        .max(chrono::Duration::seconds(1))
}

trait LastAlert {
    fn is_none_or_elapsed(&self, now: DateTime<Utc>, cooldown: chrono::Duration) -> bool;
}

impl LastAlert for Option<DateTime<Utc>> {
    fn is_none_or_elapsed(&self, now: DateTime<Utc>, cooldown: chrono::Duration) -> bool {
        match self {
            None => true,
            Some(at) => now.signed_duration_since(*at) >= cooldown,
        }
    }
}

/// The clock of the spike task: the wall-clock time at start plus tokio's monotonic time.
#[derive(Debug, Clone, Copy)]
struct Clock {
    started_wall: DateTime<Utc>,
    started: Instant,
}

impl Clock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default();
        self.started_wall + elapsed
    }
}

/// A detector shared by the pipeline (counting) and [`run`] (closing buckets). Cheap to
/// clone. A std mutex: held for microseconds, never across an await.
#[derive(Debug, Clone)]
pub struct SpikeHandle {
    detector: Arc<Mutex<SpikeDetector>>,
    clock: Clock,
    /// Where [`run`] saves the state after each bucket; `None`: memory only.
    store: Option<Store>,
}

impl SpikeHandle {
    /// A handle whose first bucket starts now, kept in memory only.
    pub fn new(rules: SpikeRules) -> SpikeHandle {
        SpikeHandle::start(rules, None, None)
    }

    /// A handle that goes on from the state saved in `store` (if any), and saves there.
    pub fn load(rules: SpikeRules, store: &Store) -> Result<SpikeHandle, StoreError> {
        let state: Option<SpikeState> = store.spike_state()?;
        Ok(SpikeHandle::start(rules, state, Some(store.clone())))
    }

    fn start(rules: SpikeRules, state: Option<SpikeState>, store: Option<Store>) -> SpikeHandle {
        let clock = Clock {
            started_wall: Utc::now(),
            started: Instant::now(),
        };
        let detector = match &state {
            Some(state) => SpikeDetector::restore(rules, state, clock.now()),
            None => SpikeDetector::new(rules, clock.now()),
        };
        SpikeHandle {
            detector: Arc::new(Mutex::new(detector)),
            clock,
            store,
        }
    }

    /// Saves the detector's state, once per closed bucket. A failure is logged: the next
    /// bucket tries again.
    async fn save(&self) {
        let Some(store) = &self.store else { return };
        let state = self.lock().state();
        let saved = store.transact(|tx| tx.put_spike_state(&state)).map(|_| ());
        let saved = match saved {
            Ok(()) => store.flush().await,
            Err(error) => Err(error),
        };
        if let Err(error) = saved {
            tracing::warn!(error = %error, "Cannot save the spike detector's state");
        }
    }

    /// Counts a complaint the pipeline stored.
    pub fn observe(&self, author_handle: &str, text: &str) {
        self.lock().observe(author_handle, text);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SpikeDetector> {
        self.detector
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Closes buckets as they end, until `shutdown`, and posts each notice to every chat (chats
/// without an ops channel ignore it) and to the log.
pub async fn run(
    handle: SpikeHandle,
    chats: Vec<Arc<dyn ChatAdapter>>,
    shutdown: CancellationToken,
) {
    loop {
        let next = handle.lock().next_close();
        let wait = (next - handle.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break,
        }
        let notices = handle.lock().close_due(handle.clock.now());
        handle.save().await;
        for notice in notices {
            tracing::warn!(notice = %notice, "Complaint volume notice");
            for chat in &chats {
                if let Err(error) = chat.post_notice(&notice).await {
                    tracing::warn!(chat = chat.name(), error = %error, "Cannot post a volume notice");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap()
    }

    fn rules() -> SpikeRules {
        SpikeRules {
            keywords: vec!["outage".to_string()],
            bucket: Duration::from_secs(60),
            factor: 3.0,
            min_count: 5,
            smoothing: 0.2,
            warmup: 3,
            cooldown: Duration::from_secs(30 * 60),
        }
    }

    /// Feeds `counts[i]` complaints (with `text`) into minute `i`, closing each minute; returns
    /// the notices by minute.
    fn run_minutes(detector: &mut SpikeDetector, counts: &[(u32, &str)]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for (count, text) in counts {
            for n in 0..*count {
                detector.observe(&format!("user{n}"), text);
            }
            let close = detector.next_close();
            out.push(detector.close_due(close));
        }
        out
    }

    #[test]
    fn one_alert_one_recovery_and_a_cooldown() {
        let mut detector = SpikeDetector::new(rules(), start());
        let quiet = (2, "my order is late");
        let storm = (30, "the app is down, outage since 9am");
        let notices = run_minutes(
            &mut detector,
            &[
                quiet, quiet, quiet, storm, storm, quiet, quiet, storm, quiet,
            ],
        );
        let flat: Vec<&String> = notices.iter().flatten().collect();
        // Minute 3: the keyword alerts (the overall alert of that minute is left out).
        assert_eq!(notices[3].len(), 1, "{flat:?}");
        assert!(
            notices[3][0].starts_with("📈 Complaint spike for “outage”: 30 in the last 1m (usual 0.0). Samples:\n• @user0: “the app is down"),
            "{}",
            notices[3][0]
        );
        assert_eq!(notices[3][0].matches("\n• ").count(), SAMPLES);
        assert!(notices[4].is_empty(), "still the same spike: {flat:?}");
        assert_eq!(notices[5].len(), 1, "{flat:?}");
        assert!(notices[5][0]
            .starts_with("✅ Complaint volume for “outage” is back to normal: 0 in the last 1m"));
        // Minute 7 spikes again within the cooldown: nothing.
        assert!(notices[7].is_empty(), "{flat:?}");
        assert_eq!(flat.len(), 2, "{flat:?}");
    }

    #[test]
    fn no_alert_while_warming_up_or_below_min_count() {
        let mut detector = SpikeDetector::new(rules(), start());
        // A burst in the very first bucket: the usual volume is unknown yet.
        let notices = run_minutes(&mut detector, &[(40, "down"), (1, "x"), (1, "x"), (1, "x")]);
        assert!(notices.iter().all(Vec::is_empty), "{notices:?}");
        // Four times the usual volume but below min_count.
        let notices = run_minutes(&mut detector, &[(4, "late")]);
        assert!(notices.iter().all(Vec::is_empty), "{notices:?}");
    }

    #[test]
    fn the_overall_volume_alerts_when_no_keyword_does() {
        let mut detector = SpikeDetector::new(rules(), start());
        let notices = run_minutes(
            &mut detector,
            &[
                (2, "late"),
                (2, "late"),
                (2, "late"),
                (20, "refund please"),
                (2, "late"),
            ],
        );
        let flat: Vec<&String> = notices.iter().flatten().collect();
        assert_eq!(flat.len(), 2, "{flat:?}");
        assert!(flat[0]
            .starts_with("📈 Complaint spike for all complaints: 20 in the last 1m (usual 2.0)"));
        assert!(flat[1].starts_with("✅ Complaint volume for all complaints is back to normal: 2"));
    }

    #[test]
    fn a_restored_detector_goes_on_with_its_spike_and_usual_volume() {
        let mut detector = SpikeDetector::new(rules(), start());
        let quiet = (2, "my order is late");
        let storm = (30, "outage, again");
        let before = run_minutes(&mut detector, &[quiet, quiet, quiet, storm]);
        assert_eq!(before[3].len(), 1, "{before:?}");
        let state: SpikeState =
            serde_json::from_slice(&serde_json::to_vec(&detector.state()).unwrap()).unwrap();
        let later = detector.next_close() + chrono::Duration::seconds(20);
        let mut restored = SpikeDetector::restore(rules(), &state, later);
        assert_eq!(restored.state(), detector.state());
        assert_eq!(restored.next_close(), later + chrono::Duration::seconds(60));
        let after = run_minutes(&mut restored, &[storm, quiet]);
        assert!(after[0].is_empty(), "the same spike: {after:?}");
        assert_eq!(after[1].len(), 1, "{after:?}");
        assert!(after[1][0].starts_with("✅ Complaint volume for “outage” is back to normal"));
        // A keyword added since starts from nothing; the others keep their volumes.
        let mut more = rules();
        more.keywords.push("refund".to_string());
        let restored = SpikeDetector::restore(more, &state, later);
        let topics = restored.state().topics;
        assert_eq!(topics.len(), 3);
        assert_eq!(topics[0].buckets, 3);
        assert_eq!(topics[2].buckets, 0);
    }

    #[test]
    fn idle_time_closes_empty_buckets() {
        let mut detector = SpikeDetector::new(rules(), start());
        let notices = detector.close_due(start() + chrono::Duration::days(30));
        assert!(notices.is_empty());
        assert!(detector.next_close() > start() + chrono::Duration::days(30));
    }
}
