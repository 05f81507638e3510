//! `spawn_app`: the real application on a temp store, the replay source on a temp file, the
//! console on 127.0.0.1:0, and helpers that act and observe the way a person would (through
//! the console's HTTP API) and the way a customer would (lines appended to the replay file).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mentiondesk::app::{Application, Overrides};
use mentiondesk::config;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running application and the files it reads and writes.
pub struct TestApp {
    /// The console's base URL, e.g. `http://127.0.0.1:40123`.
    pub console: String,
    /// The health endpoint's base URL.
    pub http: String,
    /// The replay source's input file.
    pub mentions: PathBuf,
    /// The replay source's sent file.
    pub sent: PathBuf,
    /// The temp directory holding store and files.
    pub dir: TempDir,
    /// The config text the app was built from.
    pub config: String,
    overrides: Overrides,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    client: reqwest::Client,
}

/// The config every test starts from; `{dir}` is the temp directory. Storm collapse is off
/// unless `extra` has a `[triage.storm]` table: many tests post the same complaint by several
/// customers and expect a card each.
pub fn test_config(dir: &Path, extra: &str) -> String {
    let storm = if extra.contains("[triage.storm]") {
        ""
    } else {
        "\n[triage.storm]\nenabled = false\n"
    };
    format!(
        r#"
[store]
path = "{dir}/store"

[http]
listen = "127.0.0.1:0"

[brand]
name = "Acme"
keywords = ["acme"]
handles = ["acme.bsky.social", "AcmeSupport"]

[[sources]]
type = "replay"
name = "demo"
path = "{dir}/mentions.jsonl"
sent_path = "{dir}/sent.jsonl"
poll_interval = "50ms"

[console]
listen = "127.0.0.1:0"

[[escalations]]
id = "billing"
label = "Billing team"

[runtime]
shutdown_timeout = "5s"
{extra}{storm}
"#,
        dir = dir.display()
    )
}

impl TestApp {
    /// Starts the app with the default test config.
    pub async fn spawn() -> TestApp {
        Self::spawn_with("").await
    }

    /// Starts the app with extra TOML appended to the test config.
    pub async fn spawn_with(extra: &str) -> TestApp {
        Self::spawn_with_overrides(extra, Overrides::default()).await
    }

    /// Starts the app with extra TOML and internal overrides (e.g. a short request timeout).
    pub async fn spawn_with_overrides(extra: &str, overrides: Overrides) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = test_config(dir.path(), extra);
        std::fs::write(dir.path().join("mentions.jsonl"), "").expect("mentions file");
        Self::start(dir, config, overrides).await
    }

    /// Starts the app with a config of the test's own making (`{dir}` given), e.g. the test
    /// config with the replay source slowed down for a paused-time test.
    pub async fn spawn_with_config(config: impl FnOnce(&Path) -> String) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = config(dir.path());
        std::fs::write(dir.path().join("mentions.jsonl"), "").expect("mentions file");
        Self::start(dir, config, Overrides::default()).await
    }

    /// Starts the app with extra TOML in `dir`, whose `store/sled` the test may have filled
    /// first (labels, a saved model).
    pub async fn spawn_in(dir: TempDir, extra: &str) -> TestApp {
        let config = test_config(dir.path(), extra);
        std::fs::write(dir.path().join("mentions.jsonl"), "").expect("mentions file");
        Self::start(dir, config, Overrides::default()).await
    }

    async fn start(dir: TempDir, config: String, overrides: Overrides) -> TestApp {
        let settings = config::parse(&config, &|_| None, dir.path()).expect("valid test config");
        let app = Application::build_with(settings, overrides.clone())
            .await
            .expect("app builds");
        let console = format!("http://{}", app.console_addr().expect("console enabled"));
        let http = format!("http://{}", app.http_addr());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        TestApp {
            console,
            http,
            mentions: dir.path().join("mentions.jsonl"),
            sent: dir.path().join("sent.jsonl"),
            dir,
            config,
            overrides,
            shutdown,
            task: Some(task),
            client: reqwest::Client::new(),
        }
    }

    /// Stops the app (graceful shutdown) and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("app task").expect("app stops cleanly");
        }
    }

    /// Stops the app and starts it again on the same store and files.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let config = self.config.clone();
        Self::start(dir, config, self.overrides.clone()).await
    }

    /// Appends mentions to the replay file, as a network would deliver them.
    pub fn post(&self, mentions: &[Value]) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.mentions)
            .expect("open mentions");
        for mention in mentions {
            writeln!(file, "{mention}").expect("append mention");
        }
    }

    /// The console's messages in a channel, oldest first.
    pub async fn messages(&self, channel: &str) -> Vec<Value> {
        let url = format!("{}/api/channels/{channel}/messages", self.console);
        let response = self.client.get(url).send().await.expect("console answers");
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.expect("messages json")
    }

    /// Waits until the channel satisfies `ready`, and returns its messages.
    pub async fn wait_for(&self, channel: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let messages = self.messages(channel).await;
            if ready(&messages) {
                return messages;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting on #{channel}; it has: {}",
                    serde_json::to_string_pretty(&messages).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the card of a case shows `state` and has at least `notes` thread notes.
    pub async fn wait_for_card(&self, case: u64, state: &str, notes: usize) -> Value {
        let messages = self
            .wait_for("mentions", |messages| {
                card_of(messages, case).is_some_and(|message| {
                    message["card"]["state"] == state
                        && message["thread"].as_array().map_or(0, Vec::len) >= notes
                })
            })
            .await;
        card_of(&messages, case).cloned().expect("card present")
    }

    /// Clicks a button (or submits a form) on the console as `agent`; returns status and body.
    pub async fn act(&self, agent: &str, payload: &str, fields: Value) -> (u16, Value) {
        let mut body = json!({ "payload": payload, "agent": agent });
        if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
            body.extend(fields.clone());
        }
        let response = self
            .client
            .post(format!("{}/api/actions", self.console))
            .json(&body)
            .send()
            .await
            .expect("console answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json outcome"))
    }

    /// The payload of a button on a case's current card.
    pub async fn button(&self, case: u64, verb: &str) -> String {
        let messages = self.messages("mentions").await;
        let card = card_of(&messages, case).expect("card present");
        card["card"]["buttons"]
            .as_array()
            .and_then(|buttons| {
                buttons
                    .iter()
                    .find(|button| button["kind"] == verb)
                    .and_then(|button| button["payload"].as_str())
            })
            .unwrap_or_else(|| panic!("no {verb} button on {card}"))
            .to_string()
    }

    /// The replay sent file, one JSON value per line.
    pub fn sent_replies(&self) -> Vec<Value> {
        read_jsonl(&self.sent)
    }

    /// The texts of the ops notices the console holds (`/api/notices`), oldest first.
    pub async fn notices(&self) -> Vec<String> {
        let notices: Vec<Value> = self
            .client
            .get(format!("{}/api/notices", self.console))
            .send()
            .await
            .expect("console answers")
            .json()
            .await
            .expect("notices json");
        notices
            .iter()
            .filter_map(|n| n["text"].as_str().map(str::to_string))
            .collect()
    }

    /// `/healthz` as JSON.
    pub async fn health(&self) -> Value {
        self.client
            .get(format!("{}/healthz", self.http))
            .send()
            .await
            .expect("health answers")
            .json()
            .await
            .expect("health json")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs `mentiondesk check` on a config of the replay source and `chat_table` (a chat's
/// `[slack]` / `[discord]` table) with the bot token `token` in place of `configured_token`;
/// returns the exit code, stdout and stderr.
pub async fn check_chat_token(
    chat_table: &str,
    configured_token: &str,
    token: &str,
) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mentiondesk.toml");
    let config = format!(
        "[brand]\nname = \"Acme\"\n\n[[sources]]\ntype = \"replay\"\nname = \"demo\"\npath = \"m.jsonl\"\n\n{}",
        chat_table.replace(configured_token, token)
    );
    std::fs::write(&path, config).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mentiondesk"))
            .args(["check", "--config", path.to_str().unwrap()])
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Puts a stopped app's store back in the crash window of a card post in `chat` ("slack",
/// "discord"): the chat took case `case`'s card, the process died before the store recorded
/// it. The record is gone, its "posting" marker is set and a sync of the card is queued, so
/// the next start must find the card rather than post a second one.
pub async fn rewind_to_a_lost_card_record(
    app: &TestApp,
    chat: &str,
    case: u64,
    marker_on_disk: bool,
) {
    use mentiondesk::store::{OutboxEntry, OutboxTask, Store};
    let store = Store::open(&app.dir.path().join("store/sled")).unwrap();
    store
        .chat_remove(chat, &format!("k/case-{case}"))
        .await
        .unwrap();
    if marker_on_disk {
        store
            .chat_put(chat, &format!("p/case-{case}"), b"1")
            .await
            .unwrap();
    } else {
        // The "posting" marker is written without an fsync: a crash right after the post
        // can lose it too.
        store
            .chat_remove(chat, &format!("p/case-{case}"))
            .await
            .unwrap();
    }
    store
        .transact(|tx| {
            let mut stored = tx
                .case(mentiondesk::domain::CaseId(case))?
                .expect("the case");
            stored.chat_refs.remove(chat);
            tx.put_case(&stored)?;
            tx.enqueue(
                &format!("chat/{chat}"),
                &OutboxEntry {
                    case: stored.id,
                    task: OutboxTask::SyncCard,
                    attempts: 0,
                    last_error: None,
                    created_at: chrono::Utc::now(),
                },
            )
        })
        .unwrap();
    store.flush().await.unwrap();
}

/// The message holding a case's card.
pub fn card_of(messages: &[Value], case: u64) -> Option<&Value> {
    messages.iter().find(|message| {
        message["card"]["case_id"] == case && message["card"]["kind"]["type"] == "case"
    })
}

/// The texts of a message's thread notes.
pub fn thread_texts(message: &Value) -> Vec<String> {
    message["thread"]
        .as_array()
        .map(|notes| {
            notes
                .iter()
                .filter_map(|note| note["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a JSONL file; a missing file is empty.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("valid json line"))
        .collect()
}

/// How many panics happened so far on this thread. A test's runtime (current-thread) runs
/// the application's tasks on the test's own thread, and a panicking task does not fail the
/// test by itself: compare this before and after to check that nothing panicked. The first
/// call installs a panic hook that counts (and still prints).
pub fn panics_here() -> usize {
    use std::sync::{Mutex, Once};
    static HOOK: Once = Once::new();
    static PANICKED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current().name() {
                PANICKED
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(name.to_string());
            }
            previous(info);
        }));
    });
    let here = std::thread::current().name().map(str::to_string);
    PANICKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .filter(|name| Some(*name) == here.as_ref())
        .count()
}

/// Waits on tokio's clock (paused time passes, in 100 ms steps) until `ready`, for at most
/// `limit`.
pub async fn within(limit: Duration, what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The complaint most chat tests card: a Bluesky mention by `handle` about a lost order.
pub fn complaint(id: &str, handle: &str) -> Value {
    bsky(
        id,
        handle,
        "@acme.bsky.social my order never arrived and support ignores me",
        None,
    )
}

/// A Bluesky mention by `handle`, optionally replying in a conversation.
pub fn bsky(id: &str, handle: &str, text: &str, reply_to: Option<(&str, &str)>) -> Value {
    let at_uri = |id: &str| format!("at://did:plc:{handle}/app.bsky.feed.post/{id}");
    let (in_reply_to, root) = match reply_to {
        Some((parent, root)) => (json!(parent), json!(root)),
        None => (Value::Null, Value::Null),
    };
    json!({
        "network": "bluesky",
        "id": at_uri(id),
        "url": format!("https://bsky.app/profile/{handle}/post/{id}"),
        "author": { "id": format!("did:plc:{handle}"), "handle": handle, "display_name": handle },
        "text": text,
        "created_at": "2026-11-20T09:00:00Z",
        "in_reply_to": in_reply_to,
        "root": root,
        "kind": if reply_to.is_some() { "reply" } else { "mention" },
        "lang": "en"
    })
}

/// The at-uri `bsky` gives a post.
pub fn bsky_uri(handle: &str, id: &str) -> String {
    format!("at://did:plc:{handle}/app.bsky.feed.post/{id}")
}
