//! SIGKILL between an action and its side effects, restart: each side effect happens once.
//!
//! These run the real binary as a child process. A failpoint (`MENTIONDESK_FAILPOINT`) parks
//! the process at an exact moment and says so on stderr; the test then SIGKILLs it
//! (`Child::kill` sends SIGKILL on Unix), restarts it without the failpoint, and checks what
//! the console and the replay sent file received.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{bsky, read_jsonl, test_config, thread_texts};

/// A running `mentiondesk run` child and what it printed.
pub struct Bot {
    pub child: Child,
    pub console: String,
    lines: mpsc::Receiver<String>,
}

impl Bot {
    pub fn start(dir: &Path, failpoint: Option<&str>) -> Bot {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mentiondesk"));
        command
            .args(["--log-format", "json", "run", "--config"])
            .arg(dir.join("mentiondesk.toml"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match failpoint {
            Some(name) => command.env("MENTIONDESK_FAILPOINT", name),
            None => command.env_remove("MENTIONDESK_FAILPOINT"),
        };
        let mut child = command.spawn().expect("start mentiondesk");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut bot = Bot {
            child,
            console: String::new(),
            lines,
        };
        let ready = bot.wait_line(|line| line.contains("Console ready"));
        let parsed: Value = serde_json::from_str(&ready).expect("json log line");
        bot.console = parsed["fields"]["url"]
            .as_str()
            .expect("console url in the log")
            .trim_end_matches('/')
            .to_string();
        bot
    }

    pub fn wait_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(error) => panic!("mentiondesk said nothing we waited for: {error}"),
            }
        }
    }

    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    pub async fn messages(&self, channel: &str) -> Vec<Value> {
        reqwest::get(format!("{}/api/channels/{channel}/messages", self.console))
            .await
            .expect("console answers")
            .json()
            .await
            .expect("json")
    }

    pub async fn wait_for(&self, channel: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..400 {
            let messages = self.messages(channel).await;
            if ready(&messages) {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "timed out; #{channel} has {:?}",
            self.messages(channel).await
        );
    }

    pub async fn act(&self, payload: &str, body: Value) -> Value {
        let mut request = json!({ "payload": payload, "agent": "Ana" });
        request
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        reqwest::Client::new()
            .post(format!("{}/api/actions", self.console))
            .json(&request)
            .send()
            .await
            .expect("console answers")
            .json()
            .await
            .expect("json")
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mentiondesk.toml"),
        test_config(dir.path(), ""),
    )
    .unwrap();
    let complaint = bsky(
        "p1",
        "jo",
        "@acme.bsky.social charged twice and still waiting for my refund",
        None,
    );
    std::fs::write(dir.path().join("mentions.jsonl"), format!("{complaint}\n")).unwrap();
    dir
}

/// The payload of button `verb` on the first card of `messages`.
pub fn button(messages: &[Value], verb: &str) -> String {
    messages[0]["card"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == verb)
        .and_then(|b| b["payload"].as_str())
        .expect("button")
        .to_string()
}

/// Kills the bot at `failpoint` during a public reply, restarts it, and checks that the reply
/// was posted once and threaded once.
async fn reply_survives_a_kill_at(failpoint: &str) {
    let dir = setup();
    let text = "@jo sorry about that, refund is on its way";
    let mut bot = Bot::start(dir.path(), Some(failpoint));
    let messages = bot.wait_for("mentions", |m| m.len() == 1).await;
    let outcome = bot
        .act(&button(&messages, "reply"), json!({ "text": text }))
        .await;
    assert_eq!(outcome["outcome"], "done", "{outcome}");
    bot.wait_line(|line| line.contains(&format!("Failpoint reached: {failpoint}")));
    bot.kill();

    let bot = Bot::start(dir.path(), None);
    let messages = bot
        .wait_for("mentions", |m| {
            m.len() == 1
                && m[0]["card"]["state"] == "replied"
                && m[0]["thread"].as_array().unwrap().len() >= 2
        })
        .await;
    let sent = read_jsonl(&dir.path().join("sent.jsonl"));
    assert_eq!(sent.len(), 1, "exactly one public reply: {sent:?}");
    assert_eq!(sent[0]["text"], text);
    // Give the outbox a moment to (wrongly) do anything twice, then look again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages_after = bot.messages("mentions").await;
    assert_eq!(messages_after.len(), 1, "one card");
    let notes = thread_texts(&messages_after[0]);
    assert_eq!(
        notes,
        [
            "Claimed by Ana",
            format!("Ana replied publicly: “{text}”").as_str()
        ],
        "each note once"
    );
    assert_eq!(read_jsonl(&dir.path().join("sent.jsonl")).len(), 1);
    drop(messages);
}

#[tokio::test]
async fn kill_after_the_action_is_recorded_but_before_the_reply_is_posted() {
    reply_survives_a_kill_at("reply.before_execute").await;
}

#[tokio::test]
async fn kill_after_the_reply_is_posted_but_before_it_is_recorded() {
    reply_survives_a_kill_at("reply.after_execute").await;
}

#[tokio::test]
async fn kill_after_a_card_is_posted_but_before_it_is_recorded() {
    let dir = setup();
    let mut bot = Bot::start(dir.path(), Some("chat.after_execute"));
    bot.wait_line(|line| line.contains("Failpoint reached: chat.after_execute"));
    // The card is on the console, but the bot died before recording where.
    assert_eq!(bot.messages("mentions").await.len(), 1);
    bot.kill();

    let bot = Bot::start(dir.path(), None);
    let messages = bot.wait_for("mentions", |m| !m.is_empty()).await;
    let claim = button(&messages, "claim");
    assert_eq!(bot.act(&claim, json!({})).await["outcome"], "done");
    let messages = bot
        .wait_for("mentions", |m| {
            m[0]["thread"].as_array().is_some_and(|t| !t.is_empty())
        })
        .await;
    assert_eq!(messages.len(), 1, "still one card after the restart");
    assert_eq!(thread_texts(&messages[0]), ["Claimed by Ana"]);
    assert_eq!(
        messages[0]["card"]["owner"], "Ana",
        "the same card was updated"
    );
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly_and_the_next_start_resumes() {
    let dir = setup();
    let mut bot = Bot::start(dir.path(), None);
    let messages = bot.wait_for("mentions", |m| m.len() == 1).await;
    let claim = button(&messages, "claim");
    assert_eq!(bot.act(&claim, json!({})).await["outcome"], "done");

    let started = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &bot.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    bot.wait_line(|line| line.contains("Stopped"));
    let exit = bot.child.wait().expect("exit status");
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped within the 5 s shutdown deadline"
    );

    // Everything the claim implied was delivered before exit or is delivered now, once.
    let bot = Bot::start(dir.path(), None);
    let messages = bot
        .wait_for("mentions", |m| m[0]["card"]["owner"] == "Ana")
        .await;
    assert_eq!(messages.len(), 1);
    assert_eq!(thread_texts(&messages[0]), ["Claimed by Ana"]);
}
