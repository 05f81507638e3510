//! The weekly digest: its figures on the report's seeded store, its chart (a PNG of the
//! configured size), its slot in the office's zone across a DST change and across restarts
//! (paused time, a recording chat), retries and ops notices, and the real uploads: Slack's
//! three-step file upload, a Discord attachment and the console's digest panel.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use mentiondesk::chat::{ChatAdapter, ChatError, MessageRef};
use mentiondesk::digest::chart::png_size;
use mentiondesk::digest::{compose, Digest, DigestTask, WeeklySchedule};
use mentiondesk::domain::{Card, ThreadNote};
use mentiondesk::health::OpsNotices;
use mentiondesk::store::Store;

use crate::fakes::discord::FakeDiscord;
use crate::fakes::slack::{wait_until, FakeSlack};
use crate::helpers::TestApp;
use crate::report::seed;

/// A digest as a chat received it: when (on the test's clock), where, what.
#[derive(Clone)]
struct Received {
    at: DateTime<Utc>,
    channel: String,
    digest: Digest,
}

/// The test's wall clock: `wall` at tokio instant `since` (moved when a restart skips time).
type Anchor = Arc<Mutex<(DateTime<Utc>, Instant)>>;

fn wall(anchor: &Anchor) -> DateTime<Utc> {
    let (wall, since) = *anchor.lock().unwrap();
    wall + Duration::from_std(Instant::now() - since).unwrap()
}

/// Where a recording chat stops for good, as a process killed there would.
#[derive(Clone, Copy, PartialEq)]
enum Hang {
    Never,
    /// Before it takes the digest.
    BeforeTaking,
    /// After it took the digest, before answering.
    AfterTaking,
}

/// A chat that records digests and notices, failing with the queued errors first. It finds
/// the digests it received (`find_digest`), as Slack's and Discord's histories do.
struct Recorder {
    name: &'static str,
    anchor: Anchor,
    failures: Mutex<VecDeque<ChatError>>,
    attempts: Mutex<Vec<DateTime<Utc>>>,
    received: Mutex<Vec<Received>>,
    notices: Mutex<Vec<String>>,
    hang: Mutex<Hang>,
    /// Answers to lose: the digest is taken, the answer is this error.
    lost_answers: Mutex<VecDeque<ChatError>>,
    /// The `since` of each lookup.
    lookups: Mutex<Vec<DateTime<Utc>>>,
    /// What every lookup answers instead of looking, if set.
    lookup_error: Mutex<Option<String>>,
}

impl Recorder {
    fn new(name: &'static str, anchor: &Anchor) -> Arc<Recorder> {
        Arc::new(Recorder {
            name,
            anchor: anchor.clone(),
            failures: Mutex::new(VecDeque::new()),
            attempts: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            notices: Mutex::new(Vec::new()),
            hang: Mutex::new(Hang::Never),
            lost_answers: Mutex::new(VecDeque::new()),
            lookups: Mutex::new(Vec::new()),
            lookup_error: Mutex::new(None),
        })
    }

    fn hang(&self, hang: Hang) {
        *self.hang.lock().unwrap() = hang;
    }

    fn lookups(&self) -> Vec<DateTime<Utc>> {
        self.lookups.lock().unwrap().clone()
    }

    fn fail_with(&self, errors: Vec<ChatError>) {
        self.failures.lock().unwrap().extend(errors);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

#[async_trait]
impl ChatAdapter for Recorder {
    fn name(&self) -> &str {
        self.name
    }

    fn main_channel(&self) -> String {
        "mentions".into()
    }

    fn escalation_channel(&self, _target: &str) -> Option<String> {
        None
    }

    async fn post_card(&self, _: &str, _: &str, _: &Card) -> Result<MessageRef, ChatError> {
        Err(ChatError::Rejected("no cards here".into()))
    }

    async fn update_card(&self, _: &MessageRef, _: &Card) -> Result<(), ChatError> {
        Err(ChatError::Rejected("no cards here".into()))
    }

    async fn post_thread(&self, _: &str, _: &MessageRef, _: &ThreadNote) -> Result<(), ChatError> {
        Err(ChatError::Rejected("no cards here".into()))
    }

    async fn post_notice(&self, text: &str) -> Result<(), ChatError> {
        self.notices.lock().unwrap().push(text.to_string());
        Ok(())
    }

    async fn post_digest(&self, channel: &str, digest: &Digest) -> Result<(), ChatError> {
        self.attempts.lock().unwrap().push(wall(&self.anchor));
        if let Some(error) = self.failures.lock().unwrap().pop_front() {
            return Err(error);
        }
        let hang = *self.hang.lock().unwrap();
        if hang == Hang::BeforeTaking {
            std::future::pending::<()>().await;
        }
        self.received.lock().unwrap().push(Received {
            at: wall(&self.anchor),
            channel: channel.to_string(),
            digest: digest.clone(),
        });
        if hang == Hang::AfterTaking {
            std::future::pending::<()>().await;
        }
        match self.lost_answers.lock().unwrap().pop_front() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    async fn find_digest(
        &self,
        channel: &str,
        digest: &Digest,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, ChatError> {
        self.lookups.lock().unwrap().push(since);
        if let Some(error) = self.lookup_error.lock().unwrap().clone() {
            return Err(ChatError::Rejected(error));
        }
        Ok(self
            .received()
            .iter()
            .position(|got| {
                got.channel == channel && got.digest.key == digest.key && got.at >= since
            })
            .map(|index| index.to_string()))
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn berlin_monday_nine() -> WeeklySchedule {
    WeeklySchedule {
        zone: jiff::tz::TimeZone::get("Europe/Berlin").unwrap(),
        zone_name: "Europe/Berlin".into(),
        weekday: 0,
        time: jiff::civil::Time::new(9, 0, 0, 0).unwrap(),
    }
}

fn open_store(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("sled")).unwrap()
}

/// Starts a digest task whose clock reads `at` now, posting to `chats`.
fn start_task(
    store: &Store,
    anchor: &Anchor,
    at: DateTime<Utc>,
    chats: &[Arc<Recorder>],
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    *anchor.lock().unwrap() = (at, Instant::now());
    let adapters: Vec<Arc<dyn ChatAdapter>> = chats
        .iter()
        .cloned()
        .map(|chat| -> Arc<dyn ChatAdapter> { chat })
        .collect();
    let ops = OpsNotices::default();
    ops.connect(&adapters);
    let task = DigestTask::new(
        store.clone(),
        berlin_monday_nine(),
        Duration::hours(1),
        adapters
            .into_iter()
            .map(|chat| (chat, "digest".to_string()))
            .collect(),
        ops,
    )
    .starting_at(at)
    .with_size(300, 150);
    let stop = CancellationToken::new();
    (stop.clone(), tokio::spawn(task.run(stop)))
}

async fn sleep_until(anchor: &Anchor, at: DateTime<Utc>) {
    let wait = (at - wall(anchor)).to_std().unwrap();
    tokio::time::sleep(wait).await;
}

/// Waits (a little real time each round) until `ready`: sled flushes on its own threads, and
/// while the runtime waits for one, paused time jumps to the next timer, so a test that
/// stops the task at a fixed time may stop it between two chats.
async fn settle(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..5_000 {
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
        tokio::task::yield_now().await;
    }
    panic!("timed out waiting for {what}");
}

fn times(chat: &Recorder) -> Vec<(DateTime<Utc>, String)> {
    chat.received()
        .into_iter()
        .map(|got| (got.at, got.digest.week))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_digest_fires_at_local_nine_across_the_dst_change_and_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let anchor: Anchor = Arc::new(Mutex::new((Utc::now(), Instant::now())));
    let chat = Recorder::new("console", &anchor);

    // Monday 23 March 2026, 06:00 UTC: this week's slot (09:00 CET = 08:00 UTC) is ahead.
    let (stop, task) = start_task(
        &store,
        &anchor,
        utc(2026, 3, 23, 6, 0),
        std::slice::from_ref(&chat),
    );
    sleep_until(&anchor, utc(2026, 3, 23, 12, 0)).await;
    assert_eq!(
        times(&chat),
        vec![(utc(2026, 3, 23, 8, 0), "2026-W13".into())]
    );
    assert_eq!(chat.received()[0].channel, "digest");

    // A restart later the same week posts nothing again.
    stop.cancel();
    task.await.unwrap();
    let (stop, task) = start_task(
        &store,
        &anchor,
        utc(2026, 3, 24, 10, 0),
        std::slice::from_ref(&chat),
    );
    // Clocks go forward on Sunday 29 March: the next one is 09:00 CEST = 07:00 UTC.
    sleep_until(&anchor, utc(2026, 3, 30, 12, 0)).await;
    assert_eq!(
        times(&chat),
        vec![
            (utc(2026, 3, 23, 8, 0), "2026-W13".into()),
            (utc(2026, 3, 30, 7, 0), "2026-W14".into()),
        ]
    );

    // Down from before the next slot (Monday 6 April, 07:00 UTC) until Tuesday: it posts once
    // when it comes back, and not again that week.
    sleep_until(&anchor, utc(2026, 4, 6, 6, 0)).await;
    stop.cancel();
    task.await.unwrap();
    let (stop, task) = start_task(
        &store,
        &anchor,
        utc(2026, 4, 7, 10, 0),
        std::slice::from_ref(&chat),
    );
    sleep_until(&anchor, utc(2026, 4, 12, 23, 0)).await;
    let (stop_again, task_again) = {
        stop.cancel();
        task.await.unwrap();
        start_task(
            &store,
            &anchor,
            utc(2026, 4, 12, 23, 30),
            std::slice::from_ref(&chat),
        )
    };
    sleep_until(&anchor, utc(2026, 4, 13, 6, 0)).await;
    stop_again.cancel();
    task_again.await.unwrap();
    assert_eq!(
        times(&chat),
        vec![
            (utc(2026, 3, 23, 8, 0), "2026-W13".into()),
            (utc(2026, 3, 30, 7, 0), "2026-W14".into()),
            (utc(2026, 4, 7, 10, 0), "2026-W15".into()),
        ]
    );
    // Each covers the seven local days before its Monday.
    let png = &chat.received()[1].digest.png;
    assert_eq!(png_size(png), Some((300, 150)));
    assert!(chat.received()[1]
        .digest
        .title
        .contains("Mon 23 Mar – Sun 29 Mar 2026 (Europe/Berlin)"));
}

#[tokio::test(start_paused = true)]
async fn a_failing_chat_is_retried_and_a_refusing_one_reported_to_ops() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let anchor: Anchor = Arc::new(Mutex::new((Utc::now(), Instant::now())));
    let flaky = Recorder::new("slack", &anchor);
    flaky.fail_with(vec![
        ChatError::Transient("slack answered HTTP 503".into()),
        ChatError::RateLimited {
            retry_after: std::time::Duration::from_secs(90),
        },
    ]);
    let refusing = Recorder::new("discord", &anchor);
    refusing.fail_with(vec![ChatError::Rejected("Unknown Channel".into())]);

    let (stop, task) = start_task(
        &store,
        &anchor,
        utc(2026, 11, 23, 7, 0),
        &[flaky.clone(), refusing.clone()],
    );
    sleep_until(&anchor, utc(2026, 11, 23, 12, 0)).await;
    settle("the ops notice", || {
        !flaky.notices.lock().unwrap().is_empty()
    })
    .await;
    stop.cancel();
    task.await.unwrap();

    // 09:00 CET = 08:00 UTC; then 30 s backoff, then the 90 s the rate limit asked for.
    let due = utc(2026, 11, 23, 8, 0);
    assert_eq!(
        flaky.attempts.lock().unwrap().clone(),
        vec![
            due,
            due + Duration::seconds(30),
            due + Duration::seconds(120)
        ]
    );
    assert_eq!(flaky.received().len(), 1);
    // A refusal is not retried: the ops channels hear about it once.
    assert_eq!(refusing.attempts.lock().unwrap().len(), 1);
    assert!(refusing.received().is_empty());
    let notices = flaky.notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("weekly digest (2026-W48) could not be posted to discord")
            && notices[0].contains("Unknown Channel"),
        "{notices:?}"
    );

    // Given up on is done: a restart the same week does not try again.
    let (stop, task) = start_task(
        &store,
        &anchor,
        utc(2026, 11, 24, 9, 0),
        &[flaky.clone(), refusing.clone()],
    );
    sleep_until(&anchor, utc(2026, 11, 25, 9, 0)).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(refusing.attempts.lock().unwrap().len(), 1);
    assert_eq!(flaky.received().len(), 1);
}

/// Stops the task as a crash would (its post never answers, the task is dropped), then starts
/// it again at `again` with the recorder behaving.
async fn crash_and_restart(
    store: &Store,
    anchor: &Anchor,
    chat: &Arc<Recorder>,
    hang: Hang,
    again: DateTime<Utc>,
) {
    chat.hang(hang);
    let (stop, task) = start_task(
        store,
        anchor,
        utc(2026, 11, 23, 7, 0),
        std::slice::from_ref(chat),
    );
    sleep_until(anchor, utc(2026, 11, 23, 9, 0)).await;
    settle("the first attempt", || {
        !chat.attempts.lock().unwrap().is_empty()
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    chat.hang(Hang::Never);
    let (stop, task) = start_task(store, anchor, again, std::slice::from_ref(chat));
    sleep_until(anchor, again + Duration::hours(2)).await;
    settle("the digest recorded", || {
        mentiondesk::digest::Posted::load(store).is_some_and(|posted| posted.chats.len() == 1)
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    // Another restart that week neither looks nor posts.
    let lookups = chat.lookups().len();
    let (stop, task) = start_task(
        store,
        anchor,
        again + Duration::hours(3),
        std::slice::from_ref(chat),
    );
    sleep_until(anchor, again + Duration::hours(5)).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(chat.lookups().len(), lookups);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_the_chat_took_the_digest_does_not_post_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let anchor: Anchor = Arc::new(Mutex::new((Utc::now(), Instant::now())));
    let chat = Recorder::new("slack", &anchor);
    let again = utc(2026, 11, 24, 10, 0);
    crash_and_restart(&store, &anchor, &chat, Hang::AfterTaking, again).await;

    // Taken once at 09:00 CET, found on the restart (looked for from the recorded start,
    // less the clock-skew margin), not posted again.
    let due = utc(2026, 11, 23, 8, 0);
    assert_eq!(times(&chat), vec![(due, "2026-W48".into())]);
    assert_eq!(chat.attempts.lock().unwrap().len(), 1);
    let skew = Duration::from_std(mentiondesk::digest::CLOCK_SKEW).unwrap();
    assert_eq!(chat.lookups(), vec![due - skew]);
    let posted = mentiondesk::digest::Posted::load(&store).unwrap();
    assert_eq!(posted.chats, vec!["slack".to_string()]);
    assert!(posted.started.is_empty());
    assert!(chat.notices.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_crash_before_the_chat_took_the_digest_posts_it_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let anchor: Anchor = Arc::new(Mutex::new((Utc::now(), Instant::now())));
    let chat = Recorder::new("discord", &anchor);
    let again = utc(2026, 11, 24, 10, 0);
    crash_and_restart(&store, &anchor, &chat, Hang::BeforeTaking, again).await;

    // Looked for first (nothing there), then posted on the restart, once.
    assert_eq!(times(&chat), vec![(again, "2026-W48".into())]);
    assert_eq!(chat.lookups().len(), 1);
    assert_eq!(chat.attempts.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_chat_that_cannot_be_searched_is_reported_not_posted_to_blindly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let anchor: Anchor = Arc::new(Mutex::new((Utc::now(), Instant::now())));
    let chat = Recorder::new("slack", &anchor);
    *chat.lookup_error.lock().unwrap() = Some("missing_scope".into());
    let again = utc(2026, 11, 24, 10, 0);
    crash_and_restart(&store, &anchor, &chat, Hang::AfterTaking, again).await;

    // Not posted a second time on a guess; the ops channel hears why, once.
    assert_eq!(chat.received().len(), 1);
    assert_eq!(chat.attempts.lock().unwrap().len(), 1);
    let notices = chat.notices.lock().unwrap().clone();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("cannot check whether it was already posted: missing_scope"),
        "{notices:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_is_looked_for_before_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let anchor: Anchor = Arc::new(Mutex::new((Utc::now(), Instant::now())));
    let chat = Recorder::new("slack", &anchor);
    chat.lost_answers
        .lock()
        .unwrap()
        .push_back(ChatError::Transient(
            "slack did not answer within 10s".into(),
        ));
    let (stop, task) = start_task(
        &store,
        &anchor,
        utc(2026, 11, 23, 7, 0),
        std::slice::from_ref(&chat),
    );
    sleep_until(&anchor, utc(2026, 11, 23, 12, 0)).await;
    stop.cancel();
    task.await.unwrap();
    // The chat took it; the retry 30 s later found it instead of posting a second one.
    let due = utc(2026, 11, 23, 8, 0);
    assert_eq!(times(&chat), vec![(due, "2026-W48".into())]);
    assert_eq!(chat.attempts.lock().unwrap().len(), 1);
    assert_eq!(chat.lookups().len(), 1);
    assert!(chat.notices.lock().unwrap().is_empty());
}

/// The report's seeded store (`report::seed`), the digest of the seven days before tomorrow.
fn seeded_digest(now: DateTime<Utc>) -> Digest {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    seed(&store, now);
    let tomorrow = now + Duration::days(1);
    let schedule = WeeklySchedule {
        zone: jiff::tz::TimeZone::UTC,
        zone_name: "UTC".into(),
        weekday: tomorrow.weekday().num_days_from_monday() as usize,
        time: jiff::civil::Time::midnight(),
    };
    let slot = schedule.slot_at(tomorrow);
    compose(&store, &slot, "UTC", Duration::hours(1), now, (1200, 600)).unwrap()
}

#[test]
fn the_digest_figures_match_the_seeded_store() {
    let digest = seeded_digest(Utc::now());
    // As worked out in `report.rs`: three cases in the week (the fourth is ten days old),
    // first replies at 30 and 90 min, one deadline met and two missed, one resolved, one
    // escalated.
    assert_eq!(
        digest.text,
        "Cases: 3 — bluesky 1 (1 question); mastodon 1 (1 complaint); x 1 (1 complaint)\n\
         First public reply: median 30m 00s, p90 1h 30m (2 answered)\n\
         SLA (first reply within 1h 00m): 1 met, 2 missed, 0 pending — 33%\n\
         Resolved 1 (33%), escalated 1 (33%)"
    );
    assert_eq!(png_size(&digest.png), Some((1200, 600)));
    let decoded = png::Decoder::new(std::io::Cursor::new(&digest.png))
        .read_info()
        .unwrap();
    assert_eq!((decoded.info().width, decoded.info().height), (1200, 600));
}

/// `[digest]` due at midnight today (UTC): a fresh bot posts this week's at once.
fn due_today() -> String {
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [Utc::now().weekday().num_days_from_monday() as usize];
    format!("\n[digest]\nweekday = \"{day}\"\ntime = \"00:00\"\ntimezone = \"UTC\"\n")
}

const MAIN: &str = "C0MENTIONS1";
const DIGEST: &str = "C0DIGEST001";

#[tokio::test]
async fn slack_gets_the_chart_through_the_external_upload_and_the_console_shows_it() {
    let slack = FakeSlack::start(&[MAIN, DIGEST], &[]).await;
    let extra = format!(
        "{}{}slack_channel = \"{DIGEST}\"\n",
        slack.config(MAIN),
        due_today()
    );
    let app = TestApp::spawn_with(&extra).await;
    wait_until("the digest upload completed", || {
        slack
            .uploads()
            .first()
            .is_some_and(|upload| upload.completed.is_some())
    })
    .await;
    let uploads = slack.uploads();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    let bytes = upload.bytes.as_ref().unwrap();
    assert_eq!(png_size(bytes), Some((1200, 600)));
    assert_eq!(upload.length, bytes.len());
    assert!(upload.filename.ends_with(".png"));
    let completed = upload.completed.as_ref().unwrap();
    assert_eq!(completed["channel_id"], DIGEST);
    assert_eq!(completed["files"][0]["id"], upload.file_id.as_str());
    let comment = completed["initial_comment"].as_str().unwrap();
    assert!(
        comment.contains("Weekly digest") && comment.contains("Cases: 0"),
        "{comment}"
    );
    // The three steps, in order, and never the deprecated files.upload.
    let steps: Vec<String> = slack
        .server
        .requests()
        .into_iter()
        .map(|request| request.path)
        .filter(|path| path.contains("files.") || path.starts_with("/upload/"))
        .collect();
    assert_eq!(
        steps,
        vec![
            "/api/files.getUploadURLExternal".to_string(),
            format!("/upload/v1/{}", upload.file_id),
            "/api/files.completeUploadExternal".to_string(),
        ]
    );

    // The console has it too, with its chart served as PNG.
    let digests: Vec<serde_json::Value> = reqwest::get(format!("{}/api/digests", app.console))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(digests[0]["channel"], "digest");
    let chart = reqwest::get(format!(
        "{}{}",
        app.console,
        digests[0]["chart"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(chart.headers()["content-type"], "image/png");
    assert_eq!(png_size(&chart.bytes().await.unwrap()), Some((1200, 600)));

    // A restart the same week posts nothing more.
    let app = app.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(slack.uploads().len(), 1);
    drop(app);
}

#[tokio::test]
async fn a_refused_slack_upload_is_reported_in_the_ops_channel() {
    let slack = FakeSlack::start(&[MAIN], &[]).await;
    let extra = format!(
        "{}{}slack_channel = \"C0NOTHERE01\"\n",
        slack.config(MAIN),
        due_today()
    );
    let app = TestApp::spawn_with(&extra).await;
    let url = format!("{}/api/notices", app.console);
    let mut notices = Vec::new();
    for _ in 0..100 {
        let listed: Vec<serde_json::Value> =
            reqwest::get(&url).await.unwrap().json().await.unwrap();
        notices = listed
            .iter()
            .filter_map(|notice| notice["text"].as_str().map(str::to_string))
            .filter(|text| text.contains("weekly digest"))
            .collect();
        if !notices.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("could not be posted to slack")
            && notices[0].contains("channel_not_found"),
        "{notices:?}"
    );
    // The upload was started and never shared.
    assert!(slack.uploads()[0].completed.is_none());
}

#[tokio::test]
async fn discord_gets_the_chart_as_an_attachment() {
    const MAIN: &str = "500000000000000001";
    const DIGEST: &str = "500000000000000009";
    let discord = FakeDiscord::start(&[MAIN, DIGEST]).await;
    let extra = format!(
        "{}{}discord_channel = \"{DIGEST}\"\n",
        discord.config(MAIN),
        due_today()
    );
    let _app = TestApp::spawn_with(&extra).await;
    wait_until("the digest in Discord", || {
        discord.messages().iter().any(|m| m.channel == DIGEST)
    })
    .await;
    let posted: Vec<_> = discord
        .messages()
        .into_iter()
        .filter(|m| m.channel == DIGEST)
        .collect();
    assert_eq!(posted.len(), 1);
    let message = &posted[0];
    let files = discord.files(&message.id);
    assert_eq!(files.len(), 1);
    let (name, bytes) = &files[0];
    assert!(name.starts_with("mentiondesk-digest-") && name.ends_with(".png"));
    assert_eq!(png_size(bytes), Some((1200, 600)));
    assert_eq!(message.body["attachments"][0]["filename"], name.as_str());
    let content = message.current["content"].as_str().unwrap();
    assert!(
        content.starts_with("**Weekly digest") && content.contains("Cases: 0"),
        "{content}"
    );
    assert_eq!(message.current["attachments"][0]["filename"], name.as_str());
}

/// Not the digest, but the same office zone: with `[sla.business_hours]`, cards show their
/// due times in its zone with its abbreviation (Tokyo has no daylight saving: always JST).
#[tokio::test]
async fn cards_show_due_times_in_the_office_zone() {
    let app = TestApp::spawn_with(
        "[sla]\nfirst_response = \"1h\"\n[sla.business_hours]\ntimezone = \"Asia/Tokyo\"\n\
         days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\n\
         opens = \"00:00\"\ncloses = \"23:59\"\n",
    )
    .await;
    app.post(&[crate::helpers::bsky(
        "p1",
        "carol.example",
        "@acme.bsky.social my order never arrived and nobody answers",
        None,
    )]);
    let card = app.wait_for_card(1, "new", 0).await;
    let line = card["card"]["state_line"].as_str().unwrap();
    assert!(
        line.contains("first response due ") && line.ends_with(" JST"),
        "{line}"
    );
    assert!(!line.contains("UTC"), "{line}");
}

/// SIGKILLs the real binary, due to post this week's digest in the chat `chat_config` sets
/// up (`digest_key` naming its channel), at `failpoint`; restarts it and waits until the
/// digest is recorded. Returns the restarted bot's record line.
fn kill_at_and_restart(
    chat_config: &str,
    digest_key: &str,
    channel: &str,
    failpoint: &str,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mentions.jsonl"), "").unwrap();
    let extra = format!("{chat_config}{}{digest_key} = \"{channel}\"\n", due_today());
    std::fs::write(
        dir.path().join("mentiondesk.toml"),
        crate::helpers::test_config(dir.path(), &extra),
    )
    .unwrap();
    let mut bot = crate::crash::Bot::start(dir.path(), Some(failpoint));
    bot.wait_line(|line| line.contains(&format!("Failpoint reached: {failpoint}")));
    bot.kill();
    let mut bot = crate::crash::Bot::start(dir.path(), None);
    let line = bot.wait_line(|line| {
        line.contains("Weekly digest posted") && !line.contains("\"console\"")
            || line.contains("Weekly digest found posted before a restart")
    });
    bot.kill();
    line
}

/// Kills the bot while it posts the digest to Slack (after Slack took the file, or before),
/// restarts it: one file share in the channel either way.
async fn slack_digest_across_a_kill_at(failpoint: &str, found: bool) -> FakeSlack {
    let slack = FakeSlack::start(&[MAIN, DIGEST], &[]).await;
    let line = kill_at_and_restart(&slack.config(MAIN), "slack_channel", DIGEST, failpoint);
    let expected = if found {
        "found posted before a restart"
    } else {
        "Weekly digest posted"
    };
    assert!(line.contains(expected), "{line}");
    let shares = slack.file_shares(DIGEST);
    assert_eq!(shares.len(), 1, "one digest in the channel");
    assert!(shares[0].body["text"]
        .as_str()
        .unwrap()
        .contains("Weekly digest"));
    let completed = slack
        .uploads()
        .into_iter()
        .filter(|upload| upload.completed.is_some())
        .count();
    assert_eq!(completed, 1);
    slack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_one_digest_across_a_kill_after_it_took_the_file() {
    let slack = slack_digest_across_a_kill_at("digest.slack.after_post", true).await;
    // Found through the channel's history from before the start.
    let lookup = slack
        .server
        .requests()
        .into_iter()
        .find(|request| request.path == "/api/conversations.history")
        .expect("the restart looked in the channel");
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(lookup.query.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(query["channel"], DIGEST);
    let oldest: f64 = query["oldest"].parse().unwrap();
    let shared: f64 = slack.file_shares(DIGEST)[0].ts.parse().unwrap();
    assert!(oldest < shared, "oldest {oldest} before the share {shared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_the_digest_once_after_a_kill_before_it_took_it() {
    slack_digest_across_a_kill_at("digest.slack.before_post", false).await;
}

/// The Discord version: one message with the chart in the channel either way.
async fn discord_digest_across_a_kill_at(failpoint: &str, found: bool) -> FakeDiscord {
    const MAIN: &str = "500000000000000001";
    const DIGEST: &str = "500000000000000009";
    let discord = FakeDiscord::start(&[MAIN, DIGEST]).await;
    let line = kill_at_and_restart(&discord.config(MAIN), "discord_channel", DIGEST, failpoint);
    let expected = if found {
        "found posted before a restart"
    } else {
        "Weekly digest posted"
    };
    assert!(line.contains(expected), "{line}");
    let posted: Vec<_> = discord
        .messages()
        .into_iter()
        .filter(|m| m.channel == DIGEST)
        .collect();
    assert_eq!(posted.len(), 1, "one digest in the channel");
    assert_eq!(discord.files(&posted[0].id).len(), 1);
    discord
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_gets_one_digest_across_a_kill_after_it_took_the_message() {
    let discord = discord_digest_across_a_kill_at("digest.discord.after_post", true).await;
    let lookup = discord
        .server
        .requests()
        .into_iter()
        .find(|request| {
            request.method == "GET"
                && request.path.ends_with("/messages")
                && request.query.contains("after=")
        })
        .expect("the restart listed the channel after the start");
    assert!(
        lookup.path.contains("500000000000000009"),
        "{}",
        lookup.path
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_gets_the_digest_once_after_a_kill_before_it_took_it() {
    discord_digest_across_a_kill_at("digest.discord.before_post", false).await;
}
