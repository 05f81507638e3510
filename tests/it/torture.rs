//! Crash torture: the real binary, a storm of mentions, people clicking concurrently, and a
//! SIGKILL at a random moment, over and over. At the end, from what the store and the console
//! recorded: every mention stored once, one card per case, every case event in its thread
//! once, one public reply per reply action, an empty outbox, and a store that opens cleanly.
//!
//! `cargo test` runs 20 kills. The long run is
//! `MENTIONDESK_TORTURE_KILLS=500 cargo test --release --test it torture -- --nocapture`
//! (results in RELIABILITY.md).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mentiondesk::domain::{CaseId, EventKind};
use mentiondesk::store::Store;
use serde_json::{json, Value};

use crate::crash::Bot;
use crate::helpers::{bsky, bsky_uri, read_jsonl, test_config};

/// A small deterministic generator: the same seed gives the same storm and the same clicks.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const COMPLAINTS: &[&str] = &[
    "@acme.bsky.social charged twice and still no refund",
    "@acme.bsky.social my order never arrived, third week waiting",
    "@acme.bsky.social the app is broken again after the update",
    "@acme.bsky.social hub offline since yesterday, been on hold for an hour",
];
const NOISE: &[&str] = &[
    "@acme.bsky.social love the new dashboard, thank you!",
    "went past the acme store today",
];

/// Appends `count` new posts (complaints, noise, follow-ups to earlier posts) to the feed.
fn feed(path: &Path, rng: &mut Rng, next_id: &mut u64, count: usize) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for _ in 0..count {
        let id = *next_id;
        *next_id += 1;
        let author = format!("user{}", rng.below(40));
        let roll = rng.below(10);
        let mention = if roll < 2 && id > 1 {
            let parent = rng.below(id - 1) + 1;
            let uri = bsky_uri(&format!("user{}", parent % 40), &format!("p{parent}"));
            bsky(
                &format!("p{id}"),
                &author,
                "any news on this? still waiting",
                Some((&uri, &uri)),
            )
        } else if roll < 8 {
            let text = COMPLAINTS[rng.below(COMPLAINTS.len() as u64) as usize];
            bsky(&format!("p{id}"), &author, text, None)
        } else {
            let text = NOISE[rng.below(NOISE.len() as u64) as usize];
            bsky(&format!("p{id}"), &author, text, None)
        };
        writeln!(file, "{mention}").unwrap();
    }
    file.sync_all().unwrap();
}

/// Clicks at random on random cards as one of three agents until `until`.
async fn click_until(console: String, seed: u64, until: Instant) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut rng = Rng(seed | 1);
    let agents = ["Ana", "Bo", "Cy"];
    while Instant::now() < until {
        let Ok(response) = client
            .get(format!("{console}/api/channels/mentions/messages"))
            .send()
            .await
        else {
            return;
        };
        let Ok(messages) = response.json::<Vec<Value>>().await else {
            return;
        };
        if messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let card = &messages[rng.below(messages.len() as u64) as usize]["card"];
        let Some(buttons) = card["buttons"].as_array().filter(|b| !b.is_empty()) else {
            continue;
        };
        let button = &buttons[rng.below(buttons.len() as u64) as usize];
        let payload = button["payload"].as_str().unwrap_or_default();
        let agent = agents[rng.below(3) as usize];
        let mut body = json!({ "payload": payload, "agent": agent });
        match button["kind"].as_str() {
            Some("reply") => {
                body["text"] = json!(format!(
                    "@{} sorry, on it ({agent})",
                    card["author_handle"].as_str().unwrap_or("x")
                ))
            }
            Some("escalate") => {
                body["target"] = json!("billing");
                body["note"] = json!("torture");
            }
            _ => {}
        }
        let _ = client
            .post(format!("{console}/api/actions"))
            .json(&body)
            .send()
            .await;
    }
}

async fn health(url: &str) -> Option<Value> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

#[tokio::test]
async fn random_kills_never_lose_or_duplicate_anything() {
    let kills: usize = std::env::var("MENTIONDESK_TORTURE_KILLS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    // Every start listens on ports of its own (port 0, read back from the log): a fixed port,
    // free while the bot is down between kills, can be taken by any outgoing connection on a
    // busy machine (the clickers' own, or another test's), and the next start could not listen.
    let config = test_config(dir.path(), "");
    std::fs::write(dir.path().join("mentiondesk.toml"), config).unwrap();
    let feed_path = dir.path().join("mentions.jsonl");
    std::fs::write(&feed_path, "").unwrap();

    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut next_id = 1;
    let started = Instant::now();
    for round in 0..kills {
        let bot = Bot::start(dir.path(), None);
        feed(&feed_path, &mut rng, &mut next_id, 12);
        let until = Instant::now() + Duration::from_millis(50 + rng.below(400));
        let clickers: Vec<_> = (0..3)
            .map(|n| tokio::spawn(click_until(bot.console.clone(), rng.next() ^ n, until)))
            .collect();
        tokio::time::sleep_until(until.into()).await;
        bot.kill();
        for clicker in clickers {
            let _ = clicker.await;
        }
        if round % 50 == 49 {
            eprintln!("torture: {} kills in {:?}", round + 1, started.elapsed());
        }
    }

    // A last run without a kill: let everything drain, then stop it gracefully.
    let mut bot = Bot::start(dir.path(), None);
    let healthz = format!("{}/healthz", bot.http);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_polls = 0;
    while quiet_polls < 3 {
        assert!(
            Instant::now() < deadline,
            "the outbox never drained: {:?}",
            health(&healthz).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let depth = health(&healthz)
            .await
            .and_then(|h| h["outbox_depth"].as_u64());
        quiet_polls = if depth == Some(0) { quiet_polls + 1 } else { 0 };
    }
    Command::new("kill")
        .args(["-TERM", &bot.child.id().to_string()])
        .status()
        .unwrap();
    bot.wait_line(|line| line.contains("Stopped"));
    assert!(bot.child.wait().unwrap().success());

    check_invariants(dir.path(), &feed_path, next_id - 1);
    eprintln!(
        "torture: {kills} kills, {} posts, checked in {:?}",
        next_id - 1,
        started.elapsed()
    );
}

fn check_invariants(dir: &Path, feed_path: &Path, posts: u64) {
    let store = Store::open(&dir.join("store/sled")).expect("the store opens cleanly");
    // Every mention stored exactly once (the posts tree is keyed by post: once is structural;
    // what must hold is that none is missing and the cursor reached the end of the feed).
    for mention in read_jsonl(feed_path) {
        let post = mentiondesk::domain::PostRef::new(
            mentiondesk::domain::Network::Bluesky,
            mention["id"].as_str().unwrap(),
        );
        assert!(store.post(&post).unwrap().is_some(), "lost {post}");
    }
    let feed_len = std::fs::metadata(feed_path).unwrap().len().to_string();
    assert_eq!(
        store.cursor("demo").unwrap(),
        Some(feed_len),
        "the cursor reached the end"
    );
    assert_eq!(
        store.outbox_depth(),
        0,
        "nothing left or set aside in the outbox"
    );

    // One card per case, and every event in the card's thread exactly once.
    let mut cards: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for (_, bytes) in store.chat_scan("console", "m/mentions/").unwrap() {
        let message: Value = serde_json::from_slice(&bytes).unwrap();
        if message["card"]["kind"]["type"] == "case" {
            let case = message["card"]["case_id"].as_u64().unwrap();
            cards.entry(case).or_default().push(message);
        }
    }
    let mut replies_recorded = HashSet::new();
    let mut cases = 0;
    for case in store.cases() {
        let case = case.unwrap();
        cases += 1;
        let messages = cards.remove(&case.id.0).unwrap_or_default();
        assert_eq!(
            messages.len(),
            1,
            "case {} has {} cards",
            case.id,
            messages.len()
        );
        let events = store.events(CaseId(case.id.0)).unwrap();
        let threaded: Vec<&EventKind> = events
            .iter()
            .map(|event| &event.kind)
            .filter(|kind| !matches!(kind, EventKind::Opened { .. }))
            .collect();
        let thread = messages[0]["thread"].as_array().unwrap();
        assert_eq!(
            thread.len(),
            threaded.len(),
            "case {}: {} events, {} notes",
            case.id,
            threaded.len(),
            thread.len()
        );
        let keys: HashSet<&str> = messages[0]["note_keys"]
            .as_array()
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), thread.len(), "note keys are unique");
        assert!(
            case.pending_reply.is_none(),
            "case {} still has a pending reply",
            case.id
        );
        for reply in &case.replies {
            assert!(
                replies_recorded.insert(reply.reply_id.clone()),
                "reply recorded twice"
            );
        }
    }
    assert!(cards.is_empty(), "cards without a case: {:?}", cards.keys());
    let sent = read_jsonl(&dir.join("sent.jsonl"));
    let sent_ids: Vec<String> = sent
        .iter()
        .map(|line| line["reply_id"].as_str().unwrap().to_string())
        .collect();
    let unique: HashSet<&String> = sent_ids.iter().collect();
    assert_eq!(unique.len(), sent_ids.len(), "a reply was posted twice");
    let sent_set: HashSet<String> = sent_ids.into_iter().collect();
    assert_eq!(
        sent_set, replies_recorded,
        "posted replies == recorded replies"
    );
    eprintln!(
        "torture: {posts} posts, {cases} cases, {} public replies, all invariants hold",
        sent_set.len()
    );
}
