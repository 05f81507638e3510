//! Spike alerts with tokio's paused time: a burst of complaints about an outage posts exactly
//! one alert (count and samples) in the ops channel, and one notice when the volume is back to
//! normal; nothing during warm-up, nothing more while the spike lasts or cools down. The
//! detector's state survives a restart on the same store: a spike under way is not announced
//! twice and still gets its recovery notice, and the usual volume is not learned again. The
//! decisions themselves are table-tested with a fixed clock in `pipeline/spike.rs`.

use std::sync::Arc;
use std::time::Duration;

use mentiondesk::chat::console::ConsoleChat;
use mentiondesk::chat::ChatAdapter;
use mentiondesk::domain::Mention;
use mentiondesk::outbox::Outbox;
use mentiondesk::pipeline::spike::{self, SpikeHandle, SpikeRules};
use mentiondesk::pipeline::{Pipeline, TriageRules, Triager};
use mentiondesk::sources::SourceBatch;
use tokio_util::sync::CancellationToken;

use crate::helpers::bsky;

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

fn mention(id: &str, handle: &str, text: &str) -> Mention {
    let mut mention: Mention = serde_json::from_value(bsky(id, handle, text, None)).unwrap();
    mention.source = "demo".to_string();
    mention
}

/// Runs `work` to the end while keeping the runtime busy, so paused time does not jump
/// while the store flushes on another thread.
async fn busy<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
    let task = tokio::spawn(work);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !task.is_finished() && std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    task.await.expect("task finished")
}

/// Stores `count` distinct complaints (about the outage, or about billing) in one round.
async fn complaints(pipeline: &Pipeline, minute: usize, count: usize, outage: bool) {
    let mentions: Vec<Mention> = (0..count)
        .map(|n| {
            let text = if outage {
                format!("@acme.bsky.social outage again, the app crashes on login, useless. day {minute} try {n}")
            } else {
                format!("@acme.bsky.social I was charged twice for my subscription and still no refund, order {minute}{n}")
            };
            mention(&format!("m{minute}-{n}"), &format!("user{minute}x{n}"), &text)
        })
        .collect();
    let pipeline = pipeline.clone();
    let report = busy(async move {
        let (stored, _) = tokio::sync::oneshot::channel();
        let batch = SourceBatch {
            source: "demo".to_string(),
            mentions,
            cursor: None,
            stored,
        };
        pipeline.ingest(&[batch]).await.unwrap()
    })
    .await;
    assert_eq!(report.opened, count, "every post is a complaint");
}

/// Lets a minute pass and the spike task close the bucket (and post what it decided).
async fn next_minute(console: &ConsoleChat) -> Vec<String> {
    tokio::time::advance(Duration::from_secs(60)).await;
    let before = console.notices().unwrap().len();
    // The task wakes, closes the bucket and may post (a store flush on another thread).
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    while std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    let after = console.notices().unwrap();
    after[before..].iter().map(|n| n.text.clone()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_spike_posts_one_alert_and_one_recovery_notice() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path());
    let (console, pipeline) = (&running.console, &running.pipeline);

    let mut by_minute = Vec::new();
    // Warm-up: the usual volume is 2 complaints a minute.
    for minute in 0..3 {
        complaints(pipeline, minute, 2, false).await;
        by_minute.push(next_minute(console).await);
    }
    // The outage: 30 complaints a minute, for two minutes.
    for minute in 3..5 {
        complaints(pipeline, minute, 30, true).await;
        by_minute.push(next_minute(console).await);
    }
    // Back to normal, and quiet for a while.
    for minute in 5..10 {
        complaints(pipeline, minute, 2, false).await;
        by_minute.push(next_minute(console).await);
    }
    let all: Vec<&String> = by_minute.iter().flatten().collect();
    assert_eq!(all.len(), 2, "one alert and one recovery: {by_minute:?}");
    assert_eq!(by_minute[3].len(), 1, "{by_minute:?}");
    let alert = &by_minute[3][0];
    assert!(
        alert.starts_with(
            "📈 Complaint spike for “outage”: 30 in the last 1m (usual 0.0). Samples:"
        ),
        "{alert}"
    );
    assert_eq!(
        alert.matches("\n• @user3x").count(),
        3,
        "three samples: {alert}"
    );
    assert!(
        alert.contains("outage again, the app crashes on login"),
        "{alert}"
    );
    assert_eq!(by_minute[5].len(), 1, "{by_minute:?}");
    assert!(
        by_minute[5][0]
            .starts_with("✅ Complaint volume for “outage” is back to normal: 0 in the last 1m"),
        "{}",
        by_minute[5][0]
    );

    running.stop().await;
}

/// The spike detector, the pipeline feeding it and the console it posts to, on the store in
/// `dir`, as the app wires them (the detector's state loaded from the store).
struct Running {
    console: Arc<ConsoleChat>,
    pipeline: Pipeline,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(dir: &std::path::Path) -> Running {
        let store = mentiondesk::store::Store::open(dir).unwrap();
        let console = Arc::new(ConsoleChat::new(store.clone(), Vec::new()));
        let spikes = SpikeHandle::load(rules(), &store).unwrap();
        let pipeline = Pipeline::new(
            store,
            Triager::new(TriageRules::default()),
            &["acme.bsky.social".to_string()],
            Outbox::new(&["console".to_string()], &[]),
        )
        .with_spikes(spikes.clone());
        let shutdown = CancellationToken::new();
        let chats: Vec<Arc<dyn ChatAdapter>> = vec![console.clone()];
        let task = tokio::spawn(spike::run(spikes, chats, shutdown.clone()));
        Running {
            console,
            pipeline,
            shutdown,
            task,
        }
    }

    /// Stops everything and lets go of the store, so it can be opened again.
    async fn stop(self) {
        self.shutdown.cancel();
        let task = self.task;
        busy(async move { task.await.unwrap() }).await;
    }

    /// Stores `count` complaints in `minute` and lets it close; returns what it posted.
    async fn minute(&self, minute: usize, count: usize, outage: bool) -> Vec<String> {
        complaints(&self.pipeline, minute, count, outage).await;
        next_minute(&self.console).await
    }

    /// Usual minutes (two billing complaints each); returns what they posted.
    async fn quiet(&self, minutes: std::ops::Range<usize>) -> Vec<String> {
        let mut posted = Vec::new();
        for minute in minutes {
            posted.extend(self.minute(minute, 2, false).await);
        }
        posted
    }

    /// The notices posted so far, over every run on this store.
    fn notices(&self) -> Vec<String> {
        let notices = self.console.notices().unwrap();
        notices.into_iter().map(|notice| notice.text).collect()
    }
}

/// Asserts that exactly one notice was posted, starting with `start`.
fn one_notice(posted: &[String], start: &str) {
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].starts_with(start), "{}", posted[0]);
}

#[tokio::test(start_paused = true)]
async fn a_restart_during_a_spike_neither_alerts_again_nor_forgets_the_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path());
    assert!(running.quiet(0..3).await.is_empty(), "warm-up");
    one_notice(
        &running.minute(3, 30, true).await,
        "📈 Complaint spike for “outage”: 30",
    );
    running.stop().await;

    // The restart: the spike goes on for a minute, then the volume is back to normal.
    let running = Running::start(dir.path());
    let still = running.minute(4, 30, true).await;
    assert!(still.is_empty(), "the same spike: {still:?}");
    one_notice(
        &running.minute(5, 2, false).await,
        "✅ Complaint volume for “outage” is back to normal: 0 in the last 1m",
    );
    running.quiet(6..9).await;
    let all = running.notices();
    assert_eq!(all.len(), 2, "one alert and one recovery in total: {all:?}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_usual_volume_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path());
    assert!(running.quiet(0..3).await.is_empty(), "warm-up");
    running.stop().await;

    // Warmed up before the restart: the first bucket after it can alert already.
    let running = Running::start(dir.path());
    one_notice(
        &running.minute(3, 20, false).await,
        "📈 Complaint spike for all complaints: 20 in the last 1m (usual 2.0)",
    );
    running.stop().await;
}
