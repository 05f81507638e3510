//! Secrets never leak: the real binary runs with `RUST_LOG=trace` (everything, dependencies
//! included) against every fake, with a
//! distinctive value in every secret field of the config; after mentions from each network, a
//! claim, public replies, an escalation through the signed webhook, failures injected on the
//! way and a graceful stop, no secret appears in any log line, in `/healthz`, in the console's
//! cards and thread notes, or in the `Debug` output of the settings.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::fakes::bluesky::{self, FakePds};
use crate::fakes::mastodon::{MastodonFake, Options};
use crate::fakes::slack::{self as fake_slack, FakeSlack};
use crate::fakes::x::{self as fake_x, FakeX};
use crate::fakes::{tickets, Fault};
use crate::helpers::{bsky, test_config};

const CONSOLE_TOKEN: &str = "console-t0ken-7f3a9c";
const SIGNING_SECRET: &str = "slack-signing-5ecret-d41e";
const MASTODON_TOKEN: &str = "mastodon-t0ken-91b2e6";
const DISCORD_TOKEN: &str = "discord-b0t-t0ken-55c1";
const MAIN: &str = "C0MENTIONS1";

/// Every secret value in the config.
fn secrets() -> Vec<&'static str> {
    let mut all = vec![
        CONSOLE_TOKEN,
        SIGNING_SECRET,
        MASTODON_TOKEN,
        fake_slack::BOT_TOKEN,
        fake_slack::APP_TOKEN,
        fake_x::BEARER,
        bluesky::APP_PASSWORD,
        tickets::SECRET,
    ];
    all.extend(fake_x::OAUTH);
    all
}

fn leaks(haystack: &str) -> Vec<&'static str> {
    secrets()
        .into_iter()
        .filter(|secret| haystack.contains(secret))
        .collect()
}

struct Fakes {
    slack: FakeSlack,
    x: FakeX,
    mastodon: MastodonFake,
    pds: FakePds,
    desk: crate::fakes::FakeServer,
}

async fn config(dir: &std::path::Path) -> (String, Fakes) {
    let slack = FakeSlack::start(&[MAIN], &[("U0ANA00001", "Ana")]).await;
    let x = FakeX::start().await;
    let mastodon = MastodonFake::start_with(Options {
        token: MASTODON_TOKEN.to_string(),
        ..Options::default()
    })
    .await;
    let pds = FakePds::start().await;
    let desk = tickets::start().await;
    let extra = format!(
        "{slack}signing_secret = \"{SIGNING_SECRET}\"\n{x}{mastodon}{pds}\n[[escalations]]\nid = \"tickets\"\nlabel = \"Ticket desk\"\nwebhook = {{ url = \"{desk}/hook\", secret = \"{secret}\" }}\n",
        slack = slack.config(MAIN),
        x = x.source_toml("x", ""),
        mastodon = mastodon.source_toml("masto"),
        pds = pds.source_toml("bsky"),
        desk = desk.base_url,
        secret = tickets::SECRET,
    );
    let text = test_config(dir, &extra).replacen(
        "[console]\nlisten = \"127.0.0.1:0\"",
        &format!("[console]\nlisten = \"127.0.0.1:0\"\nauth_token = \"{CONSOLE_TOKEN}\""),
        1,
    );
    assert!(text.contains(CONSOLE_TOKEN));
    (
        text,
        Fakes {
            slack,
            x,
            mastodon,
            pds,
            desk,
        },
    )
}

/// The value of `key=` in a human log line, or of `fields.key` in a JSON one.
fn field(line: &str, key: &str) -> Option<String> {
    let parsed: Value = serde_json::from_str(line).ok()?;
    parsed["fields"][key].as_str().map(str::to_string)
}

#[tokio::test]
async fn no_secret_reaches_logs_healthz_threads_or_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let (text, fakes) = config(dir.path()).await;
    std::fs::write(dir.path().join("mentiondesk.toml"), &text).unwrap();
    std::fs::write(
        dir.path().join("mentions.jsonl"),
        format!(
            "{}\n",
            bsky(
                "p1",
                "jo",
                "@acme.bsky.social my order never arrived, support ignores me",
                None
            )
        ),
    )
    .unwrap();
    // A customer on each network; some requests fail on the way (errors get logged).
    let jo = fakes.x.add_user("2000000002", "jo_x", "Jo", 10);
    fakes.x.tweet(
        &jo,
        "@AcmeSupport my order never arrived, terrible support",
        None,
    );
    fakes
        .mastodon
        .mention("kim", "@acme my order never arrived and nobody answers");
    fakes.pds.mention(
        "lu.bsky.social",
        "@acme.bsky.social my order never arrived, awful",
    );
    fakes.mastodon.server.inject(
        "/api/v1/notifications",
        Fault::Status(401, r#"{"error":"The access token is invalid"}"#),
    );
    fakes
        .x
        .server
        .inject("/2/users", Fault::Status(503, "over capacity"));
    fakes
        .pds
        .server
        .inject("/xrpc/app.bsky.notification", Fault::Malformed);
    fakes
        .slack
        .server
        .inject("/api/chat.postMessage", Fault::Status(500, "oops"));
    fakes
        .desk
        .inject("/hook", Fault::Status(502, "bad gateway"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_mentiondesk"))
        .args(["--log-format", "json", "run", "--config"])
        .arg(dir.path().join("mentiondesk.toml"))
        .env("RUST_LOG", "trace")
        .env_remove("MENTIONDESK_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mentiondesk");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let lines = lines.clone();
        let ready_tx = ready_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if line.contains("Console ready") || line.contains("Health endpoint ready") {
                    let _ = ready_tx.send(line.clone());
                }
                lines.lock().unwrap().push(line);
            }
        });
    }
    let mut console = String::new();
    let mut http = String::new();
    while console.is_empty() || http.is_empty() {
        let line = ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("mentiondesk started");
        if let Some(url) = field(&line, "url") {
            console = url.trim_end_matches('/').to_string();
        }
        if let Some(addr) = field(&line, "addr") {
            http = format!("http://{addr}");
        }
    }
    let client = reqwest::Client::new();
    let auth = format!("Bearer {CONSOLE_TOKEN}");

    // The token in a URL (how a person opens the console) is not logged either.
    let page = client
        .get(format!("{console}/?token={CONSOLE_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success(), "{}", page.status());

    let messages = |client: reqwest::Client| {
        let url = format!("{console}/api/channels/mentions/messages");
        let auth = auth.clone();
        async move {
            client
                .get(url)
                .header("authorization", auth)
                .send()
                .await
                .unwrap()
                .json::<Vec<Value>>()
                .await
                .unwrap()
        }
    };
    let mut cards = Vec::new();
    for _ in 0..400 {
        cards = messages(client.clone()).await;
        if cards.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cards.len() >= 4, "a card per network: {cards:#?}");
    let act = |payload: String, body: Value| {
        let client = client.clone();
        let url = format!("{console}/api/actions");
        let auth = auth.clone();
        async move {
            let mut request = json!({ "payload": payload, "agent": "Ana" });
            request
                .as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            client
                .post(url)
                .header("authorization", auth)
                .json(&request)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let button = |card: &Value, verb: &str| {
        card["card"]["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["kind"] == verb)
            .and_then(|b| b["payload"].as_str())
            .unwrap()
            .to_string()
    };
    // A reply on every network, and an escalation through the signed webhook.
    for card in &cards {
        let handle = card["card"]["author_handle"]
            .as_str()
            .expect("the card names the customer")
            .to_string();
        let outcome = act(
            button(card, "reply"),
            json!({ "text": format!("@{handle} so sorry, we are on it") }),
        )
        .await;
        assert_eq!(outcome["outcome"], "done", "{outcome}");
    }
    let outcome = act(
        button(&cards[0], "escalate"),
        json!({ "target": "tickets", "note": "refund please" }),
    )
    .await;
    assert!(
        outcome["outcome"] == "done" || outcome["message"].is_string(),
        "{outcome}"
    );
    // Wait for the replies and the hand-off to be recorded in the threads.
    let mut threads = Vec::new();
    let mut done = false;
    for _ in 0..400 {
        threads = messages(client.clone()).await;
        let notes: Vec<String> = threads
            .iter()
            .flat_map(|m| m["thread"].as_array().cloned().unwrap_or_default())
            .filter_map(|n| n["text"].as_str().map(str::to_string))
            .collect();
        let replied = notes
            .iter()
            .filter(|n| n.contains("replied publicly"))
            .count();
        done = replied >= cards.len() && notes.iter().any(|n| n.contains("received the hand-off"));
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = client
        .get(format!("{http}/healthz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let audit = client
        .get(format!("{http}/audit?since=1h"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = child.wait().expect("exit status");
    assert!(exit.success(), "{exit:?}");
    // Let the reader threads drain the pipes.
    std::thread::sleep(Duration::from_millis(200));
    let log = lines.lock().unwrap().join("\n");
    assert!(
        done,
        "every reply and the hand-off were recorded: {threads:#?}"
    );
    // The injected failures were logged (and secrets still stayed out of those lines).
    for failure in [
        "The access token is invalid",
        "over capacity",
        "bad gateway",
    ] {
        assert!(log.contains(failure), "{failure:?} not logged");
    }

    assert!(log.lines().count() > 50, "debug logging is on: {log}");
    assert!(
        log.contains("\"level\":\"DEBUG\""),
        "debug lines were captured"
    );
    assert!(health.contains("components"), "{health}");
    assert!(audit.contains("reply_sent"), "{audit}");
    let threads_text = serde_json::to_string(&threads).unwrap();
    assert!(threads_text.contains("replied publicly"), "{threads_text}");
    for (what, text) in [
        ("the log", &log),
        ("/healthz", &health),
        ("/audit", &audit),
        ("cards and threads", &threads_text),
    ] {
        assert_eq!(
            leaks(text),
            Vec::<&str>::new(),
            "a secret leaked into {what}"
        );
    }

    // Debug output of the settings, with a Discord token too.
    let with_discord = format!(
        "{text}\n[discord]\nbot_token = \"{DISCORD_TOKEN}\"\nchannel = \"123456789012345678\"\n"
    );
    let settings = mentiondesk::config::parse(&with_discord, &|_| None, dir.path()).unwrap();
    for debug in [format!("{settings:?}"), format!("{settings:#?}")] {
        assert_eq!(leaks(&debug), Vec::<&str>::new(), "{debug}");
        assert!(!debug.contains(DISCORD_TOKEN), "{debug}");
        assert!(debug.contains("[redacted]"));
    }
}
