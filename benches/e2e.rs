//! End-to-end bench: the real `mentiondesk` binary (release, a child process) against fake
//! networks and chats on loopback (issue 9). Three scenarios, chosen by name on the command
//! line (all three when none is given):
//!
//! ```sh
//! cargo bench --bench e2e -- latency     # ~18 min: 1,000 mentions, one every 1.05 s
//! cargo bench --bench e2e -- streaming   # ~18 min: the same with Mastodon streaming
//! cargo bench --bench e2e -- storm       # ~6 min by default (see the env vars below)
//! cargo bench --bench e2e -- footprint   # ~65 s
//! ```
//!
//! - **latency** (polling mode): mentions are put on the fake Mastodon instance one at a time
//!   (`E2E_LATENCY_MENTIONS`, default 1,000, every `E2E_LATENCY_GAP_MS`, default 1,050 ms, so
//!   that the bot's own Slack pacing, one message per second per channel, never delays a card).
//!   For each mention: from the fake Mastodon receiving the notifications poll that returned it
//!   (the request's arrival; the fake answers in microseconds) to the fake Slack receiving the
//!   `chat.postMessage` of its card. That is the pipeline overhead without the poll interval:
//!   the source's second request of the poll (own statuses), parsing, dedupe, triage, the store
//!   transaction and flush, the outbox, rendering and the post. The fake Slack does not rate
//!   limit in this run.
//! - **streaming**: the same with the Mastodon source's `streaming = true`: the fake pushes
//!   each mention on its SSE stream as it is put there, and the latency runs from that moment
//!   to the card at the fake Slack (the push, the fetch it triggers, and the rest as above).
//! - **storm**: `E2E_STORM_MENTIONS` (10,000) mentions within `E2E_STORM_SECONDS` (60), of which
//!   `E2E_STORM_COMPLAINTS` (300) are complaints (each opens a case, hence a card) and the rest
//!   praise, questions and news; `E2E_STORM_DUP_SHARE` (0.3) of all mentions are near-duplicates
//!   (the same text as an earlier mention with a different author and a different number). The
//!   fake Slack enforces `E2E_SLACK_PER_SEC` (1.0) messages per second per channel with a burst
//!   of `E2E_SLACK_BURST` (2), answers 429 + `Retry-After` beyond it, and counts posts that came
//!   before the `Retry-After` it gave had passed ("429 ignored"). Checks: every mention stored
//!   (the store's post count, opened after the bot stops), every opened case carded, no 429
//!   ignored; measures ingest time, drain time (first mention → last card) and peak RSS
//!   (`VmHWM` of the bot process). Storm collapse (`[triage.storm] enabled = true`) is on
//!   unless `E2E_STORM_COLLAPSE=0`: near-duplicate complaints then join the first one's case.
//! - **footprint**: three sources (fake Mastodon, Bluesky PDS and X, at the default 30 s poll
//!   interval) and two chats (fake Slack over Socket Mode, fake Discord gateway). Time from
//!   spawning the process to all connectors ready (every source healthy in `/healthz`, a Socket
//!   Mode connection open, a Discord gateway session identified), then RSS and CPU while idle for
//!   `E2E_IDLE_SECONDS` (60).
//!
//! The binary is the one Cargo builds for this bench (`CARGO_BIN_EXE_mentiondesk`, release).

#[path = "../tests/it/fakes/mod.rs"]
mod fakes;

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

use fakes::mastodon::{MastodonFake, Options as MastodonOptions};

const BIN: &str = env!("CARGO_BIN_EXE_mentiondesk");
const CHANNEL: &str = "C0MENTIONS1";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let runs = |name: &str| wanted.is_empty() || wanted.iter().any(|w| name.contains(w.as_str()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("machine: {}", machine());
    if runs("latency") {
        runtime.block_on(latency(false));
    }
    if runs("streaming") {
        runtime.block_on(latency(true));
    }
    if runs("storm") {
        runtime.block_on(storm());
    }
    if runs("footprint") {
        runtime.block_on(footprint());
    }
}

// --- The bot as a child process. ---

struct Bot {
    child: Child,
    dir: tempfile::TempDir,
    http: String,
    log: PathBuf,
    started: Instant,
}

impl Bot {
    /// Writes `[store]`, `[http]`, `[brand]` and `extra` to a config and starts
    /// `mentiondesk --log-format json run`.
    fn spawn(extra: &str) -> Bot {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = format!(
            r#"
[store]
path = "{dir}/store"

[http]
listen = "127.0.0.1:{port}"

[brand]
name = "Acme"
keywords = ["acme"]
handles = ["acme.bsky.social", "AcmeSupport", "@acme@mastodon.example"]

[runtime]
shutdown_timeout = "5s"
{extra}
"#,
            dir = dir.path().display()
        );
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).expect("write config");
        let log = dir.path().join("log.jsonl");
        let started = Instant::now();
        let child = Command::new(BIN)
            .args(["--log-format", "json", "run", "--config"])
            .arg(&path)
            .env(
                "RUST_LOG",
                std::env::var("E2E_BOT_LOG").unwrap_or_else(|_| "info".to_string()),
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start mentiondesk");
        Bot {
            child,
            dir,
            http: format!("http://127.0.0.1:{port}"),
            log,
            started,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmRSS` and `VmHWM`, in kB.
    fn memory(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|line| line.starts_with(name))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn threads(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with("Threads:"))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    /// utime + stime in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        // Fields 14 and 15 of stat; `after` starts at field 3.
        let get = |index: usize| fields.get(index - 3).and_then(|v| v.parse::<u64>().ok());
        get(14).unwrap_or(0) + get(15).unwrap_or(0)
    }

    /// Sums of the pipeline's "Mentions stored" log lines: (stored, opened).
    /// From the pipeline's log: mentions stored, cases opened, complaints collapsed into an
    /// incident.
    fn stored(&self) -> (u64, u64, u64) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let (mut stored, mut opened, mut collapsed) = (0, 0, 0);
        for line in text.lines() {
            let Ok(value) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let fields = &value["fields"];
            if fields["message"] != "Mentions stored" {
                continue;
            }
            let count = |key: &str| fields[key].as_u64().unwrap_or(0);
            stored += count("opened")
                + count("joined")
                + count("duplicates")
                + count("skipped")
                + count("collapsed");
            opened += count("opened");
            collapsed += count("collapsed");
        }
        (stored, opened, collapsed)
    }

    /// When the pipeline logged "Mentions stored" for a round that opened a case (right after
    /// the store's flush), as `Instant`s of this process, given one (`Instant`, wall clock)
    /// pair.
    fn stored_times(&self, clock: (Instant, chrono::DateTime<chrono::Utc>)) -> Vec<Instant> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|value| {
                value["fields"]["message"] == "Mentions stored"
                    && value["fields"]["opened"].as_u64().unwrap_or(0) > 0
            })
            .filter_map(|value| {
                let at = chrono::DateTime::parse_from_rfc3339(value["timestamp"].as_str()?).ok()?;
                let offset = (at.with_timezone(&chrono::Utc) - clock.1).to_std().ok()?;
                Some(clock.0 + offset)
            })
            .collect()
    }

    async fn healthz(&self) -> Option<Value> {
        let response = reqwest::get(format!("{}/healthz", self.http)).await.ok()?;
        response.json().await.ok()
    }

    /// SIGTERM, wait for a clean exit; the store's directory stays until `self` drops.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn store_path(&self) -> PathBuf {
        // `[store].path` holds the sled database in `sled/` (as `Application::build` opens it).
        self.dir.path().join("store").join("sled")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
        .unwrap_or_default();
    format!("{cpus} CPUs, {model}; {}", load())
}

fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let parts: Vec<&str> = text.split_whitespace().take(3).collect();
    format!("load average {}", parts.join(" "))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

async fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// --- A fake Slack Web API for HTTP mode, with a pace per channel and a clock on every post. ---

#[derive(Default)]
struct SlackState {
    /// Messages per second per channel; 0 = no limit.
    per_sec: f64,
    burst: f64,
    buckets: HashMap<String, (f64, Instant)>,
    blocked_until: HashMap<String, Instant>,
    posts: Vec<(Instant, Value)>,
    rate_limited: u64,
    ignored: u64,
    ts: u64,
}

#[derive(Clone)]
struct PacedSlack {
    base_url: String,
    state: Arc<Mutex<SlackState>>,
}

impl PacedSlack {
    async fn start(per_sec: f64, burst: f64) -> PacedSlack {
        let state = Arc::new(Mutex::new(SlackState {
            per_sec,
            burst,
            ts: 1_763_000_000_000_100,
            ..SlackState::default()
        }));
        let router = Router::new()
            .route("/api/{method}", any(slack_api))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        PacedSlack {
            base_url: format!("http://{addr}/api"),
            state,
        }
    }

    /// `[slack]` in HTTP mode (no Socket Mode needed to post cards).
    fn config(&self) -> String {
        format!(
            "[slack]\nbot_token = \"xoxb-bench\"\nsigning_secret = \"8f742231b10e8888abcd99benchsecret\"\nbase_url = \"{}\"\nchannel = \"{CHANNEL}\"\n",
            self.base_url
        )
    }

    fn posts(&self) -> Vec<(Instant, Value)> {
        self.state.lock().unwrap().posts.clone()
    }

    fn cards(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .posts
            .iter()
            .filter(|(_, body)| body.get("thread_ts").is_none())
            .count()
    }

    fn counts(&self) -> (u64, u64) {
        let state = self.state.lock().unwrap();
        (state.rate_limited, state.ignored)
    }
}

async fn slack_api(
    State(state): State<Arc<Mutex<SlackState>>>,
    UrlPath(method): UrlPath<String>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let at = Instant::now();
    let mut args: serde_json::Map<String, Value> = serde_json::from_slice(&body)
        .ok()
        .and_then(|value: Value| value.as_object().cloned())
        .unwrap_or_default();
    for pair in query.unwrap_or_default().split('&') {
        if let Some((key, value)) = pair.split_once('=') {
            args.insert(key.to_string(), json!(value));
        }
    }
    let ok = |mut body: Value| {
        body["ok"] = json!(true);
        Json(body).into_response()
    };
    let mut state = state.lock().unwrap();
    state.ts += 100;
    let ts = format!("{}.{:06}", state.ts / 1_000_000, state.ts % 1_000_000);
    match method.as_str() {
        "auth.test" => ok(json!({
            "url": "https://acme.slack.com/", "team": "Acme", "user": "mentiondesk",
            "team_id": "T0TEAM0001", "user_id": "U0BOT00001", "bot_id": "B0BOT00001",
            "is_enterprise_install": false
        })),
        "chat.postMessage" => {
            let channel = args["channel"].as_str().unwrap_or_default().to_string();
            if state.per_sec > 0.0 {
                if let Some(until) = state.blocked_until.get(&channel).copied() {
                    if at < until {
                        state.ignored += 1;
                        state.rate_limited += 1;
                        return too_many(until - at);
                    }
                }
                let (per_sec, burst) = (state.per_sec, state.burst);
                let (tokens, last) = state.buckets.entry(channel.clone()).or_insert((burst, at));
                *tokens = (*tokens + at.duration_since(*last).as_secs_f64() * per_sec).min(burst);
                *last = at;
                if *tokens < 1.0 {
                    let wait = Duration::from_secs_f64((1.0 - *tokens) / per_sec);
                    // Slack's Retry-After is whole seconds.
                    let wait = Duration::from_secs(wait.as_secs_f64().ceil().max(1.0) as u64);
                    state.blocked_until.insert(channel, at + wait);
                    state.rate_limited += 1;
                    return too_many(wait);
                }
                *tokens -= 1.0;
            }
            let mut message = json!({
                "type": "message", "user": "U0BOT00001", "bot_id": "B0BOT00001",
                "app_id": "A0APP00001", "ts": ts, "text": args["text"], "team": "T0TEAM0001"
            });
            if let Some(blocks) = args.get("blocks") {
                message["blocks"] = blocks.clone();
            }
            if let Some(thread) = args.get("thread_ts") {
                message["thread_ts"] = thread.clone();
            }
            state.posts.push((at, Value::Object(args.clone())));
            ok(json!({"channel": channel, "ts": ts, "message": message}))
        }
        // Slack's answer carries the updated message (the client reads it).
        "chat.update" => ok(json!({
            "channel": args["channel"], "ts": args["ts"], "text": args["text"],
            "message": {
                "type": "message", "user": "U0BOT00001", "bot_id": "B0BOT00001",
                "text": args["text"], "ts": args["ts"]
            }
        })),
        "conversations.history" | "conversations.replies" => ok(json!({
            "messages": [], "has_more": false, "response_metadata": {"next_cursor": ""}
        })),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error": "unknown_method"})),
        )
            .into_response(),
    }
}

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"ok": false, "error": "ratelimited"})),
    )
        .into_response();
    response
        .headers_mut()
        .insert("retry-after", seconds.to_string().parse().unwrap());
    response
}

/// A Mastodon instance with a budget no bench run reaches.
async fn mastodon() -> MastodonFake {
    MastodonFake::start_with(MastodonOptions {
        rate_limit: 100_000_000,
        ..MastodonOptions::default()
    })
    .await
}

fn mastodon_toml(fake: &MastodonFake, poll: &str) -> String {
    fake.source_toml("masto")
        .replace(
            "poll_interval = \"50ms\"",
            &format!("poll_interval = \"{poll}\""),
        )
        .replace("request_timeout = \"400ms\"", "request_timeout = \"10s\"")
}

const COMPLAINTS: [&str; 6] = [
    "my order #{n} never arrived and nobody answers my emails, this is unacceptable",
    "the app keeps crashing since the update, I can't open the cameras at all. Still broken after order {n}",
    "you charged me twice this month (invoice {n}) and support ignores me. Terrible service",
    "my hub is offline again, third time this week, refund please. Ticket {n}",
    "still waiting on a refund for order {n} after three weeks, absolutely useless support",
    "the login is broken, I can't access my account and the reset email never comes ({n})",
];

const OTHERS: [&str; 6] = [
    "love the new lamp, setup took two minutes! #{n}",
    "does the hub work with Home Assistant without the cloud? asking for {n} lights",
    "Acme announces a new office in Lisbon, story {n}",
    "thanks for the quick delivery, everything works great {n}",
    "what time does the Acme store open on Sundays? {n}",
    "great talk by the Acme team at the meetup tonight {n}",
];

// --- Latency (polling). ---

/// Latency, polling (`streaming` false) or streaming (the Mastodon source with `streaming =
/// true`, the fake pushing each mention over its SSE stream; the poll interval is then long,
/// `E2E_STREAMING_POLL`, so the stream is what brings the mention in).
async fn latency(streaming: bool) {
    let count: usize = env_or("E2E_LATENCY_MENTIONS", 1000);
    let gap = Duration::from_millis(env_or("E2E_LATENCY_GAP_MS", 1050));
    let poll: String = if streaming {
        env_or("E2E_STREAMING_POLL", "30s".to_string())
    } else {
        env_or("E2E_LATENCY_POLL", "100ms".to_string())
    };
    let masto = mastodon().await;
    let slack = PacedSlack::start(0.0, 0.0).await;
    let mut source = mastodon_toml(&masto, &poll);
    if streaming {
        source.push_str("streaming = true\n");
    }
    // The latency mentions share a few templates: storm collapse (on by default) would fold
    // them into a handful of incident cards, and this measures the card of every mention.
    let mut bot = Bot::spawn(&format!(
        "{source}\n{}\n[triage.storm]\nenabled = false\n",
        slack.config()
    ));
    // An `Instant` and the wall clock at the same moment, to place the bot's log timestamps.
    let clock = (Instant::now(), chrono::Utc::now());
    println!(
        "\n== latency ({}): {count} mentions, one every {gap:?}, poll interval {poll}; {}",
        if streaming { "streaming" } else { "polling" },
        load()
    );
    // Let the source sign in and read the (empty) instance once.
    wait_for("the first poll", Duration::from_secs(30), || {
        !masto
            .server
            .requests_to("GET", "/api/v1/notifications")
            .is_empty()
    })
    .await;
    if streaming {
        wait_for("the stream", Duration::from_secs(30), || {
            masto.open_streams() > 0
        })
        .await;
    }
    let load_start = load();
    let mut inserted = Vec::with_capacity(count);
    for i in 0..count {
        let token = format!("L{i:05}X");
        let text = COMPLAINTS[i % COMPLAINTS.len()].replace("{n}", &token);
        let at = Instant::now();
        masto.mention(&format!("lat{i}@other.example"), &format!("{text} {token}"));
        inserted.push((token, at));
        tokio::time::sleep(gap).await;
    }
    let carded = |slack: &PacedSlack| slack.cards();
    let deadline = Instant::now() + Duration::from_secs(60);
    while carded(&slack) < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let load_end = load();
    let polls: Vec<Instant> = masto
        .server
        .requests_to("GET", "/api/v1/notifications")
        .iter()
        .map(|request| request.at)
        .collect();
    let posts = slack.posts();
    let mut latencies = Vec::new();
    let mut missing = 0;
    for (token, at) in &inserted {
        let Some((posted, _)) = posts.iter().find(|(_, body)| {
            body.get("thread_ts").is_none() && body.to_string().contains(token.as_str())
        }) else {
            missing += 1;
            continue;
        };
        if streaming {
            // Pushed at once: from the moment it was put on the instance (and on the stream).
            latencies.push(posted.saturating_duration_since(*at));
            continue;
        }
        // The poll that returned it: the first to arrive after it was put there, unless the card
        // came before that one (then the poll that arrived just before the insert answered it).
        let first_after = polls.partition_point(|poll| poll < at);
        let mut poll = polls.get(first_after).copied();
        let answered_before = match poll {
            Some(poll) => poll > *posted,
            None => true,
        };
        if answered_before && first_after > 0 {
            poll = Some(polls[first_after - 1]);
        }
        if let Some(poll) = poll {
            latencies.push(posted.saturating_duration_since(poll));
        }
    }
    // Where the time goes: the pipeline's "Mentions stored" log line of each opened case
    // (logged right after the store's flush) splits each latency in two.
    let stored_at = bot.stored_times(clock);
    let (mut to_stored, mut to_card) = (Vec::new(), Vec::new());
    for (posted, _) in posts
        .iter()
        .filter(|(_, body)| body.get("thread_ts").is_none())
    {
        let Some(stored) = stored_at.iter().rev().find(|at| *at <= posted) else {
            continue;
        };
        let started = if streaming {
            inserted
                .iter()
                .rev()
                .map(|(_, at)| *at)
                .find(|at| at <= stored)
        } else {
            polls.iter().rev().copied().find(|poll| poll <= stored)
        };
        if let Some(started) = started {
            to_stored.push(stored.saturating_duration_since(started));
            to_card.push(posted.saturating_duration_since(*stored));
        }
    }
    println!(
        "→ stored (flushed), p50 of each fifth of the run: {}",
        fifths_p50(&to_stored)
    );
    to_stored.sort();
    to_card.sort();
    println!(
        "split by the bot's log: {} → stored (flushed) p50 {} p99 {}; stored → card at Slack p50 {} p99 {} ({} cards)",
        if streaming { "pushed" } else { "poll answered" },
        ms(percentile(&to_stored, 50.0)),
        ms(percentile(&to_stored, 99.0)),
        ms(percentile(&to_card, 50.0)),
        ms(percentile(&to_card, 99.0)),
        to_card.len()
    );
    // The p50 of each fifth of the run, in the order the mentions were put there: whether
    // the latency grows as the store does.
    println!("p50 of each fifth of the run: {}", fifths_p50(&latencies));
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    println!("cards: {} of {count} (missing {missing})", latencies.len());
    println!(
        "{} → card at Slack: p50 {}, p90 {}, p99 {}, max {}, mean {}",
        if streaming {
            "mention put on the instance (pushed on the stream)"
        } else {
            "poll answered"
        },
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default()),
        ms(mean)
    );
    println!("load at start: {load_start}; at end: {load_end}");
    let (_, hwm) = bot.memory();
    println!("bot VmHWM {hwm} kB");
    bot.stop();
}

/// The p50 of each fifth of `samples` (in the order given): whether a latency grows over the
/// run, as the store does.
fn fifths_p50(samples: &[Duration]) -> String {
    samples
        .chunks(samples.len().div_ceil(5).max(1))
        .map(|chunk| {
            let mut chunk = chunk.to_vec();
            chunk.sort();
            ms(percentile(&chunk, 50.0))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// --- Storm. ---

async fn storm() {
    let total: usize = env_or("E2E_STORM_MENTIONS", 10_000);
    let seconds: f64 = env_or("E2E_STORM_SECONDS", 60.0);
    let complaints: usize = env_or("E2E_STORM_COMPLAINTS", 300);
    let dup_share: f64 = env_or("E2E_STORM_DUP_SHARE", 0.3);
    let per_sec: f64 = env_or("E2E_SLACK_PER_SEC", 1.0);
    let burst: f64 = env_or("E2E_SLACK_BURST", 2.0);
    let poll: String = env_or("E2E_STORM_POLL", "1s".to_string());
    let timeout = Duration::from_secs(env_or("E2E_STORM_TIMEOUT_SECS", 3600));
    let collapse = env_or("E2E_STORM_COLLAPSE", 1) != 0;
    let masto = mastodon().await;
    let slack = PacedSlack::start(per_sec, burst).await;
    // Collapse is on by default in the bot; say so either way so the bench means what it says.
    let storm_toml = if collapse {
        "[triage.storm]\nenabled = true\n"
    } else {
        "[triage.storm]\nenabled = false\n"
    };
    let mut bot = Bot::spawn(&format!(
        "{}\n{}\n{storm_toml}",
        mastodon_toml(&masto, &poll),
        slack.config()
    ));
    println!(
        "\n== storm: {total} mentions in {seconds} s ({complaints} complaints, {:.0} % near-duplicates), \
         fake Slack {per_sec}/s burst {burst}, poll interval {poll}, storm collapse {}; {}",
        dup_share * 100.0,
        if collapse { "on" } else { "off" },
        load()
    );
    wait_for("the first poll", Duration::from_secs(30), || {
        !masto
            .server
            .requests_to("GET", "/api/v1/notifications")
            .is_empty()
    })
    .await;

    // Which mentions are complaints: spread evenly over the storm.
    let is_complaint =
        |i: usize| complaints > 0 && i * complaints / total != (i + 1) * complaints / total;
    let mut texts: Vec<String> = Vec::with_capacity(total);
    let mut duplicates = 0;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..total {
        let complaint = is_complaint(i);
        let templates = if complaint { &COMPLAINTS } else { &OTHERS };
        // A near-duplicate: an earlier mention's template (same kind) with a new number.
        let near_duplicate = i > 0 && (random() % 1000) as f64 / 1000.0 < dup_share;
        let template = if near_duplicate {
            duplicates += 1;
            templates[0]
        } else {
            templates[(random() % templates.len() as u64) as usize]
        };
        texts.push(template.replace("{n}", &format!("S{i}")));
    }

    let start = Instant::now();
    let mut peak_rss = 0;
    let tick = Duration::from_millis(100);
    let ticks = (seconds / tick.as_secs_f64()).max(1.0) as usize;
    let mut next = 0;
    for t in 0..ticks {
        let until = (t + 1) * total / ticks;
        while next < until {
            masto.mention(&format!("storm{next}@other.example"), &texts[next]);
            next += 1;
        }
        peak_rss = peak_rss.max(bot.memory().0);
        tokio::time::sleep_until((start + tick * (t as u32 + 1)).into()).await;
    }
    let inserted_in = start.elapsed();
    let mut ingested_in = None;
    let mut drained_in = None;
    let mut last_print = Instant::now();
    loop {
        let (stored, opened, _) = bot.stored();
        peak_rss = peak_rss.max(bot.memory().0);
        if stored as usize >= total && ingested_in.is_none() {
            ingested_in = Some(start.elapsed());
        }
        let depth = bot
            .healthz()
            .await
            .and_then(|health| health["outbox_depth"].as_u64())
            .unwrap_or(u64::MAX);
        if stored as usize >= total && slack.cards() as u64 >= opened && depth == 0 {
            drained_in = posts_end(&slack).map(|end| end.duration_since(start));
            break;
        }
        if last_print.elapsed() > Duration::from_secs(30) {
            println!(
                "  {:>5.0} s: stored {stored}/{total}, cards {}/{opened}, outbox {depth}, RSS {peak_rss} kB",
                start.elapsed().as_secs_f64(),
                slack.cards()
            );
            last_print = Instant::now();
        }
        if start.elapsed() > timeout {
            println!("timed out after {timeout:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, hwm) = bot.memory();
    let (_, opened, collapsed) = bot.stored();
    let load_end = load();
    bot.stop();
    let store = mentiondesk::store::Store::open(&bot.store_path()).expect("open the store");
    let posts_stored = store.post_count();
    let cases = store.cases().count();
    drop(store);
    let (rate_limited, ignored) = slack.counts();
    let card_keys: std::collections::HashSet<String> = slack
        .posts()
        .iter()
        .filter(|(_, body)| body.get("thread_ts").is_none())
        .filter_map(|(_, body)| {
            body["metadata"]["event_payload"]["key"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    println!(
        "mentions put on the instance: {total} in {}",
        ms(inserted_in)
    );
    println!(
        "near-duplicates: {duplicates} ({:.1} %)",
        100.0 * duplicates as f64 / total as f64
    );
    println!(
        "stored (store's post count after stop): {posts_stored} of {total}{}",
        if posts_stored == total {
            " — none lost"
        } else {
            " — LOST MENTIONS"
        }
    );
    println!(
        "cases opened: {cases} (log: {opened}); distinct cards at Slack: {}{}",
        card_keys.len(),
        if card_keys.len() == cases {
            " — every case carded"
        } else {
            " — CASES WITHOUT A CARD"
        }
    );
    println!(
        "complaints collapsed into an incident (log): {collapsed}; opened + collapsed = {} of {complaints} complaints",
        opened + collapsed
    );
    println!(
        "Slack 429s: {rate_limited}; posts before Retry-After had passed (429 ignored): {ignored}"
    );
    println!(
        "all stored after: {}; drained (first mention → last card) after: {}",
        ingested_in.map_or("-".to_string(), ms),
        drained_in.map_or("-".to_string(), ms)
    );
    println!("peak RSS: VmHWM {hwm} kB (sampled VmRSS max {peak_rss} kB)");
    println!("load at end: {load_end}");
}

fn posts_end(slack: &PacedSlack) -> Option<Instant> {
    slack.posts().last().map(|(at, _)| *at)
}

// --- Footprint. ---

async fn footprint() {
    use fakes::bluesky::FakePds;
    use fakes::discord::FakeDiscord;
    use fakes::slack::FakeSlack;
    use fakes::x::FakeX;

    const DISCORD_CHANNEL: &str = "500000000000000001";
    let idle: u64 = env_or("E2E_IDLE_SECONDS", 60);
    let masto = mastodon().await;
    let pds = FakePds::start().await;
    let x = FakeX::start().await;
    let slack = FakeSlack::start(&[CHANNEL], &[]).await;
    let discord = FakeDiscord::start(&[DISCORD_CHANNEL]).await;
    let default_poll = |toml: String| {
        toml.lines()
            .filter(|line| !line.starts_with("poll_interval"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let extra = format!(
        "{}\n{}\n{}\n{}\n{}",
        default_poll(masto.source_toml("masto")),
        default_poll(pds.source_toml("bsky")),
        default_poll(x.source_toml("x", "")),
        slack.config(CHANNEL),
        discord.config(DISCORD_CHANNEL)
    );
    println!("\n== footprint: 3 sources (Mastodon, Bluesky, X; 30 s polls), 2 chats (Slack Socket Mode, Discord gateway); {}", load());
    let mut bot = Bot::spawn(&extra);
    let ready = async {
        loop {
            let sources_ok = match bot.healthz().await {
                Some(health) => {
                    let components = health["components"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    let sources: Vec<_> = components
                        .iter()
                        .filter(|(name, _)| name.starts_with("source:"))
                        .collect();
                    sources.len() == 3 && sources.iter().all(|(_, c)| !c["last_success"].is_null())
                }
                None => false,
            };
            if sources_ok && slack.open_sockets() > 0 && discord.sessions().0 >= 1 {
                return bot.started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let ready_in = tokio::time::timeout(Duration::from_secs(30), ready).await;
    let Ok(ready_in) = ready_in else {
        println!("not ready within 30 s; log:\n{}", bot.log_tail());
        return;
    };
    let (rss_ready, _) = bot.memory();
    println!(
        "start → all 5 connectors ready: {} (RSS then {rss_ready} kB)",
        ms(ready_in)
    );
    // Let start-up work settle (first polls, card recovery) before the idle window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hz = 100.0; // CLK_TCK on Linux
    let t0 = bot.cpu_ticks();
    let w0 = Instant::now();
    let (mut max_rss, mut sum_rss) = (0, 0);
    for _ in 0..idle {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (rss, _) = bot.memory();
        max_rss = max_rss.max(rss);
        sum_rss += rss;
    }
    let cpu = (bot.cpu_ticks() - t0) as f64 / hz;
    let wall = w0.elapsed().as_secs_f64();
    let (_, hwm) = bot.memory();
    println!(
        "idle {wall:.1} s: RSS mean {} kB, max {max_rss} kB (VmHWM {hwm} kB); CPU {:.0} ms = {:.3} % of one core; {} threads",
        sum_rss / idle.max(1),
        cpu * 1000.0,
        100.0 * cpu / wall,
        bot.threads()
    );
    println!("load at end: {}", load());
    let _ = std::io::stdout().flush();
    bot.stop();
}
