//! "Down two hours": a Mastodon instance that fails for two hours of paused time (an hour of
//! 503s, then an hour of requests that time out) while complaints pile up, then recovers. The
//! bot catches up from its cursor, every complaint gets exactly one card in Slack, the cards
//! go out at Slack's pace (the fake, whose rate buckets follow tokio's clock, refuses nothing),
//! and the ops channel hears of it exactly twice: once failing, once recovered.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::fakes::mastodon::MastodonFake;
use crate::fakes::slack::FakeSlack;
use crate::fakes::Fault;
use crate::helpers::{test_config, within, TestApp};

const MAIN: &str = "C0MENTIONS1";
const OPS: &str = "C0OPS000001";
const BACKLOG: usize = 30;

fn complaint(index: usize) -> String {
    format!("my order #{index} never arrived and support ignores me")
}

async fn console_notices(app: &TestApp) -> Vec<String> {
    app.notices()
        .await
        .into_iter()
        .filter(|text| text.contains("source:masto"))
        .collect()
}

fn ops_notices(slack: &FakeSlack) -> Vec<String> {
    slack
        .messages()
        .iter()
        .filter(|m| m.channel == OPS && m.all_text().contains("source:masto"))
        .map(|m| m.all_text())
        .collect()
}

/// How many Slack cards carry each complaint's text.
fn carded(slack: &FakeSlack) -> HashMap<usize, usize> {
    let cards = slack.cards(MAIN);
    let mut counts = HashMap::new();
    for index in 0..=BACKLOG {
        let text = complaint(index);
        let count = cards
            .iter()
            .filter(|c| c.all_text().contains(&text))
            .count();
        counts.insert(index, count);
    }
    counts
}

/// Lets `duration` of paused time pass (every timer due in it fires, in order).
async fn pass(duration: Duration) {
    tokio::time::sleep(duration).await;
}

#[tokio::test(start_paused = true)]
async fn a_source_down_two_hours_catches_up_once_paced_and_is_announced_once() {
    let mastodon = MastodonFake::start().await;
    let slack = FakeSlack::start(&[MAIN, OPS], &[]).await;
    let source = mastodon
        .source_toml("masto")
        .replace("poll_interval = \"50ms\"", "poll_interval = \"30s\"");
    let extra = format!(
        "health_notice_after = \"5m\"\n{source}{}ops_channel = \"{OPS}\"\n",
        slack.config(MAIN)
    );
    // The replay source of the test config polls an empty file: slowed down, so two hours of
    // paused time are not 144,000 polls.
    let app = TestApp::spawn_with_config(|dir| {
        test_config(dir, &extra).replacen("poll_interval = \"50ms\"", "poll_interval = \"1h\"", 1)
    })
    .await;
    slack.wait_connected(1).await;

    // Before the outage: one complaint, carded; the cursor is at its notification.
    mastodon.mention("jo", &complaint(0));
    within(Duration::from_secs(120), "the first card", || {
        carded(&slack)[&0] == 1
    })
    .await;
    let cursor = mastodon.newest_notification().unwrap();
    let requests_before = mastodon.server.requests().len();

    // Down: an hour of 503s, then an hour of answers slower than the request timeout, while
    // complaints keep coming.
    mastodon.server.set_outage(
        "/api/",
        Some(Fault::Status(503, "{\"error\":\"maintenance\"}")),
    );
    for index in 1..=BACKLOG / 2 {
        mastodon.mention(&format!("user{index}"), &complaint(index));
        pass(Duration::from_secs(240)).await;
    }
    mastodon
        .server
        .set_outage("/api/", Some(Fault::Delay(Duration::from_secs(5))));
    for index in BACKLOG / 2 + 1..=BACKLOG {
        mastodon.mention(&format!("user{index}"), &complaint(index));
        pass(Duration::from_secs(240)).await;
    }
    let down = mastodon.server.requests()[requests_before..]
        .iter()
        .filter(|r| r.path == "/api/v1/notifications")
        .count();
    assert!(
        (10..=60).contains(&down),
        "the bot backed off (at most one try per 5 minutes once backed off), yet kept trying: {down} tries in two hours"
    );
    assert_eq!(slack.cards(MAIN).len(), 1, "nothing carded while down");
    assert_eq!(
        console_notices(&app).await.len(),
        1,
        "one failure notice in two hours"
    );

    // Back up: the backlog is read from the cursor and carded once each, at Slack's pace.
    mastodon.server.set_outage("/api/", None);
    let up = Instant::now();
    within(Duration::from_secs(15 * 60), "the backlog's cards", || {
        carded(&slack).values().all(|count| *count >= 1)
    })
    .await;
    let caught_up = up.elapsed();
    pass(Duration::from_secs(60)).await;

    let counts = carded(&slack);
    assert!(
        counts.values().all(|count| *count == 1),
        "every complaint carded exactly once: {counts:?}"
    );
    assert_eq!(slack.cards(MAIN).len(), BACKLOG + 1);
    assert_eq!(slack.rate_limited(), 0, "Slack never had to refuse a card");
    // 30 cards at about one a second after a burst of three: the catch-up took its time.
    assert!(
        caught_up >= Duration::from_secs(20),
        "the backlog was not flooded into the channel: {caught_up:?}"
    );
    let resumed = mastodon.server.requests()[requests_before..]
        .iter()
        .filter(|r| r.path == "/api/v1/notifications")
        .map(|r| r.query.clone())
        .collect::<Vec<_>>();
    assert!(
        resumed.len() > down
            && resumed[..=down]
                .iter()
                .all(|query| query.contains(&format!("min_id={cursor}"))),
        "every read during the outage, and the first after it, asked from the cursor: {resumed:?}"
    );

    // The ops channels heard of it exactly twice.
    let notices = console_notices(&app).await;
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices[0].starts_with("⚠️ source:masto has been failing for"));
    assert!(
        notices[1].starts_with("✅ source:masto works again, after failing for 2h"),
        "{notices:?}"
    );
    let in_slack = ops_notices(&slack);
    assert_eq!(in_slack.len(), 2, "{in_slack:?}");
}
