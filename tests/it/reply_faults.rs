//! The fault matrix's reply path (see RELIABILITY.md): a public reply on each network (Bluesky
//! `createRecord`, Mastodon `POST /api/v1/statuses`, X `POST /2/tweets`) rides out a 5xx, a cut
//! connection, a timeout, a malformed answer and an answer lost after the network acted, and is
//! posted exactly once; one that keeps failing (nobody listening) is reported once in the thread
//! with the draft kept, and a retry from the card posts it once. Paused time: the outbox's
//! backoffs and the timeouts pass in no real time.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fakes::bluesky::FakePds;
use crate::fakes::mastodon::MastodonFake;
use crate::fakes::x::FakeX;
use crate::fakes::{FakeServer, Fault, Recorded};
use crate::helpers::{card_of, panics_here, thread_texts, TestApp};

const TEXT: &str = "so sorry, a replacement ships today";
const X_CUSTOMER: &str = "2000000001";

/// One network's fake, seen the way these tests need it.
enum Network {
    Mastodon(MastodonFake),
    Bluesky(FakePds),
    X(FakeX),
}

impl Network {
    async fn all() -> Vec<Network> {
        let x = FakeX::start().await;
        x.add_user(X_CUSTOMER, "jo_x", "Jo", 12);
        vec![
            Network::Mastodon(MastodonFake::start().await),
            Network::Bluesky(FakePds::start().await),
            Network::X(x),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Network::Mastodon(_) => "mastodon",
            Network::Bluesky(_) => "bluesky",
            Network::X(_) => "x",
        }
    }

    fn server(&self) -> &FakeServer {
        match self {
            Network::Mastodon(fake) => &fake.server,
            Network::Bluesky(fake) => &fake.server,
            Network::X(fake) => &fake.server,
        }
    }

    /// The source, polling every 5 s: minutes of paused time pass in these tests, and a poll
    /// every 50 ms would spend the fakes' rate windows (300 requests per 5 minutes) and X's
    /// read budget.
    fn source_toml(&self) -> String {
        let toml = match self {
            Network::Mastodon(fake) => fake.source_toml("net"),
            Network::Bluesky(fake) => fake.source_toml("net"),
            Network::X(fake) => fake.source_toml("net", ""),
        };
        toml.lines()
            .map(|line| {
                if line.starts_with("poll_interval") {
                    "poll_interval = \"5s\""
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    fn complain(&self) {
        match self {
            Network::Mastodon(fake) => {
                fake.mention("jo", "my order never arrived and support ignores me");
            }
            Network::Bluesky(fake) => {
                fake.mention(
                    "jo.bsky.social",
                    "@acme.bsky.social my order never arrived and support ignores me",
                );
            }
            Network::X(fake) => {
                fake.tweet(
                    X_CUSTOMER,
                    "@AcmeSupport order #1 never arrived and still no refund, terrible service",
                    None,
                );
            }
        }
    }

    /// The endpoint that creates the reply.
    fn reply_path(&self) -> &'static str {
        match self {
            Network::Mastodon(_) => "/api/v1/statuses",
            Network::Bluesky(_) => "/xrpc/com.atproto.repo.createRecord",
            Network::X(_) => "/2/tweets",
        }
    }

    /// The brand's posts the network holds (our public replies).
    fn our_posts(&self) -> Vec<Value> {
        match self {
            Network::Mastodon(fake) => fake.created(),
            Network::Bluesky(fake) => fake.brand_posts(),
            Network::X(fake) => fake.brand_tweets(),
        }
    }

    /// What makes two attempts the same post at the network: Mastodon's `Idempotency-Key`,
    /// Bluesky's record key. X has none (the source reads its own timeline before posting).
    fn idempotency_key(&self, attempt: &Recorded) -> Option<String> {
        match self {
            Network::Mastodon(_) => attempt.header("idempotency-key").map(str::to_string),
            Network::Bluesky(_) => attempt.json()["rkey"].as_str().map(str::to_string),
            Network::X(_) => None,
        }
    }

    fn attempts(&self) -> Vec<Recorded> {
        self.server().requests_to("POST", self.reply_path())
    }
}

async fn card(app: &TestApp) -> Value {
    let messages = app.messages("mentions").await;
    card_of(&messages, 1).cloned().unwrap_or(Value::Null)
}

async fn wait_for_card(app: &TestApp, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let card = card(app).await;
        if ready(&card) {
            return card;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {card}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn submit_reply(app: &TestApp) {
    let reply = app.button(1, "reply").await;
    let (status, body) = app.act("Ana", &reply, json!({ "text": TEXT })).await;
    assert_eq!(status, 200, "{body}");
}

fn failure_notes(card: &Value) -> Vec<String> {
    thread_texts(card)
        .into_iter()
        .filter(|note| note.contains("failed"))
        .collect()
}

fn is_replied(card: &Value) -> bool {
    card["card"]["state"] == "replied"
        && thread_texts(card)
            .iter()
            .any(|note| note.starts_with("Ana replied publicly"))
}

async fn spawn(network: &Network) -> TestApp {
    let app = TestApp::spawn_with(&network.source_toml()).await;
    network.complain();
    wait_for_card(&app, "the card", |card| !card.is_null()).await;
    app
}

/// Four failed attempts in a row (cut, timeout, malformed, and a 503 after the network created
/// the post), then the fifth and last allowed attempt: exactly one post at the network.
#[tokio::test(start_paused = true)]
async fn a_reply_rides_out_every_fault_and_is_posted_once_on_every_network() {
    let panics = panics_here();
    for network in Network::all().await {
        let app = spawn(&network).await;
        let path = network.reply_path();
        for fault in [
            Fault::Reset,
            Fault::Delay(Duration::from_secs(120)),
            Fault::Malformed,
            Fault::Status(503, "{\"error\":\"over capacity\"}").after_acting(),
        ] {
            network.server().inject_post(path, fault);
        }
        submit_reply(&app).await;
        let card = wait_for_card(&app, "the reply", is_replied).await;
        // Let the delayed attempt and any stray retry finish.
        tokio::time::sleep(Duration::from_secs(180)).await;

        let name = network.name();
        let ours = network.our_posts();
        assert_eq!(ours.len(), 1, "{name}: posted exactly once: {ours:?}");
        assert!(failure_notes(&card).is_empty(), "{name}: {card}");
        let attempts = network.attempts();
        let keys: std::collections::HashSet<Option<String>> = attempts
            .iter()
            .map(|attempt| network.idempotency_key(attempt))
            .collect();
        assert_eq!(keys.len(), 1, "{name}: one key for every attempt: {keys:?}");
        match &network {
            // The fifth attempt posted again with the same key; the instance answered with
            // the status the fourth created.
            Network::Mastodon(_) => {
                assert_eq!(attempts.len(), 5, "{name}");
                assert!(keys.iter().all(Option::is_some), "{name}: {keys:?}");
            }
            // The fourth attempt's 503 made the source look its record key up, and it was
            // there: sent, without a fifth create.
            Network::Bluesky(fake) => {
                assert_eq!(attempts.len(), 4, "{name}");
                assert!(keys.iter().all(Option::is_some), "{name}: {keys:?}");
                assert!(!fake
                    .server
                    .requests_to("GET", "/xrpc/com.atproto.repo.getRecord")
                    .is_empty());
            }
            // No key at X: the fifth attempt read the brand's timeline first, found the post
            // of the fourth answering the same tweet with the same text, and did not post.
            Network::X(_) => assert_eq!(attempts.len(), 4, "{name}"),
        }
        let card = self::card(&app).await;
        assert_eq!(
            thread_texts(&card)
                .iter()
                .filter(|note| note.starts_with("Ana replied publicly"))
                .count(),
            1,
            "{name}: one note: {card}"
        );
    }
    assert_eq!(panics_here(), panics, "nothing panicked");
}

/// Nobody listening for all five attempts: one failure note, the draft kept on the card; the
/// network comes back and a retry from the card posts the reply once.
#[tokio::test(start_paused = true)]
async fn a_reply_that_cannot_connect_is_reported_once_and_can_be_retried_from_the_card() {
    let panics = panics_here();
    for network in Network::all().await {
        let name = network.name();
        let app = spawn(&network).await;
        network.server().refuse_connections().await;
        submit_reply(&app).await;
        let card = wait_for_card(&app, "the failure note", |card| {
            !failure_notes(card).is_empty()
        })
        .await;
        // More time: no second note, no late post.
        tokio::time::sleep(Duration::from_secs(120)).await;
        let card_after = self::card(&app).await;
        let failures = failure_notes(&card_after);
        assert_eq!(failures.len(), 1, "{name}: reported once: {card_after}");
        assert!(
            failures[0].contains("cannot connect") && failures[0].contains("draft is kept"),
            "{name}: {failures:?}"
        );
        assert!(
            card["card"].to_string().contains("last reply failed"),
            "{name}: the card says so: {card}"
        );
        assert!(network.our_posts().is_empty(), "{name}");

        network.server().accept_connections().await;
        submit_reply(&app).await;
        let card = wait_for_card(&app, "the retried reply", is_replied).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        let ours = network.our_posts();
        assert_eq!(ours.len(), 1, "{name}: posted once: {ours:?}");
        assert_eq!(failure_notes(&card).len(), 1, "{name}: {card}");
        assert_eq!(
            network.attempts().len(),
            1,
            "{name}: nothing reached it before"
        );
    }
    assert_eq!(panics_here(), panics, "nothing panicked");
}

/// A 429 on the reply's POST: the lane waits the `Retry-After` out (30 s of tokio time) and the
/// next attempt posts the reply once.
#[tokio::test(start_paused = true)]
async fn a_rate_limited_reply_waits_out_retry_after_and_is_posted_once() {
    let panics = panics_here();
    for network in Network::all().await {
        let name = network.name();
        let app = spawn(&network).await;
        network.server().inject_post(
            network.reply_path(),
            Fault::RateLimited {
                retry_after_secs: 30,
            },
        );
        submit_reply(&app).await;
        wait_for_card(&app, "the reply", is_replied).await;
        let attempts = network.attempts();
        assert_eq!(attempts.len(), 2, "{name}");
        let waited = attempts[1].clock - attempts[0].clock;
        assert!(
            waited >= Duration::from_secs(30),
            "{name}: Retry-After honoured, waited {waited:?}"
        );
        assert_eq!(network.our_posts().len(), 1, "{name}");
    }
    assert_eq!(panics_here(), panics, "nothing panicked");
}
