//! The Mastodon source against a fake instance: mentions in, cards out, replies back, with the
//! instance's pagination, rate limits, idempotency keys and visibilities.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fakes::mastodon::{MastodonFake, Options, Post};
use crate::fakes::Fault;
use crate::helpers::{card_of, thread_texts, TestApp};

const ORDER: &str = "my order never arrived and support ignores me";
const CRASH: &str = "the app crashes on login again, useless";

fn handles(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m["card"]["author_handle"].as_str().map(str::to_string))
        .collect()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The query of every notifications read from request number `from` on, in order.
fn notification_queries(fake: &MastodonFake, from: usize) -> Vec<Vec<(String, String)>> {
    fake.server.requests()[from..]
        .iter()
        .filter(|r| r.path == "/api/v1/notifications")
        .map(|r| form(r.query.as_bytes()))
        .collect()
}

/// Claims nothing, just replies as Ana with `text` on case `case`; returns the HTTP status.
async fn reply(app: &TestApp, case: u64, text: &str) -> (u16, Value) {
    let button = app.button(case, "reply").await;
    app.act("Ana", &button, json!({ "text": text })).await
}

#[tokio::test]
async fn mentions_become_cards_with_clean_text_and_handles_unique_across_instances() {
    let fake = MastodonFake::start().await;
    // Older than the backfill window: never carded.
    fake.post(Post::by("old", CRASH).age(Duration::from_secs(3 * 3600)));
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    fake.mention("jo", &format!("{ORDER} & nobody <answers>"));
    fake.mention("kim@other.example", CRASH);
    fake.mention("sam", "love the new dashboard, thank you!");

    let messages = app.wait_for("mentions", |m| m.len() >= 2).await;
    assert_eq!(
        handles(&messages),
        ["jo@mastodon.example", "kim@other.example"]
    );
    let card = &messages[0]["card"];
    assert_eq!(card["title"], "Complaint on Mastodon");
    assert_eq!(
        card["text"],
        format!("@acme@mastodon.example {ORDER} & nobody <answers>")
    );
    assert!(card["post_url"]
        .as_str()
        .is_some_and(|url| url.starts_with("https://mastodon.example/@jo/")));

    let reads = fake.server.requests_to("GET", "/api/v1/notifications");
    assert!(!reads.is_empty());
    for read in &reads {
        assert_eq!(read.header("authorization"), Some("Bearer token-acme"));
        let query = form(read.query.as_bytes());
        assert_eq!(field(&query, "types[]"), Some("mention"), "{}", read.query);
        assert_eq!(field(&query, "limit"), Some("80"));
    }
    assert_eq!(
        fake.server
            .requests_to("GET", "/api/v1/accounts/verify_credentials")
            .len(),
        1,
        "the account is read once"
    );
    // The praise, stored without a card, does not show; nothing more arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.messages("mentions").await.len(), 2);
}

#[tokio::test]
async fn the_cursor_survives_a_restart_and_pages_are_followed_without_gaps() {
    let fake = MastodonFake::start().await;
    let mut app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;
    let newest_before = fake.newest_notification().unwrap();

    // While the bot is down, more than a page (80) of complaints arrives.
    app.stop().await;
    let requests_before = fake.server.requests().len();
    for index in 0..85 {
        fake.mention(&format!("user{index}"), &format!("{CRASH} #{index}"));
    }
    let app = app.restart().await;
    let messages = app.wait_for("mentions", |m| m.len() >= 86).await;
    let cases: HashSet<u64> = messages
        .iter()
        .filter_map(|m| m["card"]["case_id"].as_u64())
        .collect();
    assert_eq!(cases.len(), 86, "one card per post, none twice");
    let authors: HashSet<String> = handles(&messages).into_iter().collect();
    for index in 0..85 {
        assert!(authors.contains(&format!("user{index}@mastodon.example")));
    }

    // After the restart, reading resumed forward from the stored cursor (`min_id`: the 80
    // notifications right after it), then from the newest of that full page for the other 5.
    let after = notification_queries(&fake, requests_before);
    assert_eq!(field(&after[0], "min_id"), Some(newest_before.as_str()));
    assert_eq!(field(&after[0], "max_id"), None);
    assert_eq!(field(&after[0], "since_id"), None);
    let newer = fake.notifications_after(&newest_before);
    assert_eq!(newer.len(), 85);
    let first_page_newest = newer[79].clone();
    assert_eq!(
        field(&after[1], "min_id"),
        Some(first_page_newest.as_str()),
        "the second page starts after the first one's newest: {after:?}"
    );
    assert_eq!(field(&after[1], "types[]"), Some("mention"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.messages("mentions").await.len(), 86);
}

/// From a cursor, a fetch reads forward (`min_id`) and stops at a short page: a new mention
/// costs one notifications request (not a second one to find an empty page), read at the same
/// time as the account's own statuses. An instance that caps pages below the `limit` asked
/// (here 30 of 80) leaves nothing behind: the rest is read by the next fetches, from the
/// newest id read, with no gap.
#[tokio::test]
async fn reads_forward_from_the_cursor_in_one_request_and_a_capped_page_loses_nothing() {
    let fake = MastodonFake::start_with(Options {
        notifications_page_max: 30,
        ..Options::default()
    })
    .await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;
    let cursor = fake.newest_notification().unwrap();
    let before = fake.server.requests().len();
    fake.mention("kim", CRASH);
    app.wait_for("mentions", |m| m.len() == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reads = notification_queries(&fake, before);
    assert!(!reads.is_empty());
    for read in &reads {
        assert_eq!(field(read, "max_id"), None, "never walks back: {reads:?}");
        assert_eq!(field(read, "since_id"), None, "{reads:?}");
        assert!(field(read, "min_id").is_some(), "{reads:?}");
    }
    // The read that found kim's mention was the only one from the old cursor: no second,
    // empty page.
    let from_old_cursor = reads
        .iter()
        .filter(|read| field(read, "min_id") == Some(cursor.as_str()))
        .count();
    assert_eq!(from_old_cursor, 1, "{reads:?}");
    let statuses = fake
        .server
        .requests()
        .iter()
        .skip(before)
        .filter(|r| r.path.ends_with("/statuses") && r.method == "GET")
        .count();
    assert!(
        reads.len() <= statuses + 1,
        "one notifications request per fetch ({} for {statuses} fetches)",
        reads.len()
    );

    // 70 more arrive at once; the instance answers at most 30 per page.
    let cursor = fake.newest_notification().unwrap();
    for index in 0..70 {
        fake.mention(&format!("user{index}"), &format!("{CRASH} #{index}"));
    }
    let messages = app.wait_for("mentions", |m| m.len() >= 72).await;
    let authors: HashSet<String> = handles(&messages).into_iter().collect();
    for index in 0..70 {
        assert!(authors.contains(&format!("user{index}@mastodon.example")));
    }
    let newer = fake.notifications_after(&cursor);
    let min_ids: Vec<String> = fake
        .server
        .requests_to("GET", "/api/v1/notifications")
        .iter()
        .filter_map(|r| field(&form(r.query.as_bytes()), "min_id").map(str::to_string))
        .collect();
    // Pages of 30, 30, 10: each read starts right after the newest id of the one before.
    for start in [&cursor, &newer[29], &newer[59]] {
        assert!(min_ids.contains(start), "read from {start}: {min_ids:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = app.messages("mentions").await;
    let cases: HashSet<u64> = messages
        .iter()
        .filter_map(|m| m["card"]["case_id"].as_u64())
        .collect();
    assert_eq!(cases.len(), 72, "one card per post, none twice");
}

#[tokio::test]
async fn follow_ups_join_the_case_and_a_reply_is_posted_once_despite_a_timeout() {
    let fake = MastodonFake::start().await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    let root = fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;
    let follow_up = fake.post(Post::by("jo", "still nothing on day five").reply_to(&root));
    let card = app.wait_for_card(1, "new", 1).await;
    assert_eq!(
        thread_texts(&card),
        ["@jo@mastodon.example wrote: “@acme@mastodon.example still nothing on day five”"]
    );

    // The instance accepts the status only after the client gave up waiting (400ms).
    fake.server.inject(
        "/api/v1/statuses",
        Fault::Delay(Duration::from_millis(1200)),
    );
    let text = "@jo@mastodon.example so sorry! We've reshipped it today.";
    let (status, body) = reply(&app, 1, text).await;
    assert_eq!(status, 200, "{body}");
    app.wait_for("mentions", |m| {
        card_of(m, 1).is_some_and(|card| {
            card["card"]["state"] == "replied"
                && thread_texts(card)
                    .iter()
                    .any(|t| t.starts_with("Ana replied publicly"))
        })
    })
    .await;

    let posts = fake.server.requests_to("POST", "/api/v1/statuses");
    assert!(posts.len() >= 2, "the timed-out post was retried");
    let keys: HashSet<&str> = posts
        .iter()
        .filter_map(|p| p.header("idempotency-key"))
        .collect();
    assert_eq!(keys.len(), 1, "every attempt carries the same key");
    assert!(keys.iter().next().unwrap().starts_with("c1-v"));
    for post in &posts {
        let sent = form(&post.body);
        assert_eq!(field(&sent, "status"), Some(text));
        // The reply answers the customer's latest post in the conversation.
        assert_eq!(field(&sent, "in_reply_to_id"), Some(follow_up.as_str()));
        assert_eq!(field(&sent, "visibility"), Some("public"));
    }
    // Let the delayed first attempt finish: still one status.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let created = fake.created();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["in_reply_to_id"], follow_up.as_str());

    // The customer answers our reply: it joins the case.
    let ours = created[0]["id"].as_str().unwrap();
    fake.post(Post::by("jo", "thanks, but the tracking link is broken").reply_to(ours));
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|card| {
                card["card"]["state"] == "customer_replied"
                    && thread_texts(card)
                        .iter()
                        .any(|t| t.contains("tracking link is broken"))
            })
        })
        .await;
    assert_eq!(messages.len(), 1, "no second card");
}

#[tokio::test]
async fn a_429_backs_off_and_reading_recovers() {
    let fake = MastodonFake::start().await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;

    fake.server.inject(
        "/api/v1/notifications",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let started = Instant::now();
    fake.mention("kim", CRASH);
    app.wait_for("mentions", |m| m.len() == 2).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the source waited for Retry-After ({:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_spent_rate_budget_is_waited_out_before_the_instance_says_429() {
    let fake = MastodonFake::start_with(Options {
        rate_limit: 6,
        rate_window: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| !m.is_empty()).await;
    fake.mention("kim", CRASH);
    app.wait_for("mentions", |m| m.len() == 2).await;
    assert_eq!(fake.rate_limited(), 0, "the client stopped at Remaining: 0");
}

#[tokio::test]
async fn malformed_payloads_are_skipped_and_reading_goes_on() {
    let fake = MastodonFake::start().await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    fake.server
        .inject("/api/v1/notifications", Fault::Malformed);
    fake.push_raw_notification(json!({
        "type": "mention",
        "created_at": chrono::Utc::now().to_rfc3339(),
        "status": { "id": "1", "content": 5 }
    }));
    fake.mention("jo", ORDER);
    let messages = app.wait_for("mentions", |m| !m.is_empty()).await;
    assert_eq!(handles(&messages), ["jo@mastodon.example"]);
    fake.mention("kim", CRASH);
    let messages = app.wait_for("mentions", |m| m.len() == 2).await;
    assert_eq!(messages[1]["card"]["author_handle"], "kim@mastodon.example");
}

#[tokio::test]
async fn a_private_mention_is_answered_privately_even_after_a_restart() {
    let fake = MastodonFake::start().await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    let dm = fake.post(Post::by("jo", ORDER).visibility("direct"));
    app.wait_for("mentions", |m| m.len() == 1).await;
    // The visibility remembered from the fetch is gone: it is read back from the instance.
    let app = app.restart().await;
    app.wait_for("mentions", |m| m.len() == 1).await;

    let (status, body) = reply(&app, 1, "@jo@mastodon.example sorry, checking now").await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 1).await;
    let created = fake.created();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["visibility"], "direct");
    assert_eq!(created[0]["in_reply_to_id"], dm.as_str());
    assert_eq!(
        fake.server
            .requests_to("GET", &format!("/api/v1/statuses/{dm}"))
            .len(),
        1
    );
}

#[tokio::test]
async fn the_instance_character_limit_is_checked_before_posting() {
    let fake = MastodonFake::start_with(Options {
        max_characters: 100,
        ..Options::default()
    })
    .await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;

    let long = format!("@jo@mastodon.example {}", "sorry ".repeat(20));
    let (status, body) = reply(&app, 1, &long).await;
    assert_eq!((status, &body["field"]), (422, &json!("text")), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("of 100 characters"),
        "{body}"
    );
    assert!(fake
        .server
        .requests_to("POST", "/api/v1/statuses")
        .is_empty());
    let (status, body) = reply(&app, 1, "@jo@mastodon.example sorry, on it").await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 1).await;
}

#[tokio::test]
async fn the_brands_own_answers_show_as_outside_but_ours_do_not() {
    let fake = MastodonFake::start().await;
    let app = TestApp::spawn_with(&fake.source_toml("masto")).await;
    let root = fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;
    let (status, body) = reply(&app, 1, "@jo@mastodon.example looking into it").await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 1).await;

    fake.brand_reply(&root, "Hi Jo, we sent you a DM with the details");
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|card| {
                thread_texts(card)
                    .iter()
                    .any(|t| t.contains("answered outside mentiondesk"))
            })
        })
        .await;
    let texts = thread_texts(card_of(&messages, 1).unwrap());
    let outside: Vec<&String> = texts
        .iter()
        .filter(|t| t.contains("answered outside"))
        .collect();
    assert_eq!(outside.len(), 1, "{texts:?}");
    assert!(outside[0].starts_with("@acme@mastodon.example answered outside mentiondesk"));
    assert!(outside[0].contains("we sent you a DM"));
}

#[tokio::test]
async fn two_instances_at_once_each_answer_on_their_own() {
    let first = MastodonFake::start().await;
    let second = MastodonFake::start_with(Options {
        domain: "social.example".to_string(),
        token: "token-second".to_string(),
        first_id: 111_000_000_000_000_000,
        ..Options::default()
    })
    .await;
    let app = TestApp::spawn_with(&format!(
        "{}{}",
        first.source_toml("masto-one"),
        second.source_toml("masto-two")
    ))
    .await;
    first.mention("jo", ORDER);
    let lee_post = second.mention("lee", CRASH);
    let messages = app.wait_for("mentions", |m| m.len() == 2).await;
    let mut seen = handles(&messages);
    seen.sort();
    assert_eq!(seen, ["jo@mastodon.example", "lee@social.example"]);
    let lee_case = messages
        .iter()
        .find(|m| m["card"]["author_handle"] == "lee@social.example")
        .and_then(|m| m["card"]["case_id"].as_u64())
        .unwrap();

    let (status, body) = reply(&app, lee_case, "@lee@social.example on it!").await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(lee_case, "replied", 1).await;
    assert!(first.created().is_empty());
    let created = second.created();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["in_reply_to_id"], lee_post.as_str());
    assert!(second
        .server
        .requests()
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer token-second")));
}

const STREAM: &str = "/api/v1/streaming/user/notification";

/// The source table with `streaming = true` and another poll interval.
fn streaming_toml(fake: &MastodonFake, poll_interval: &str) -> String {
    fake.source_toml("masto").replace(
        "poll_interval = \"50ms\"",
        &format!("poll_interval = \"{poll_interval}\"\nstreaming = true"),
    )
}

async fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_streamed_mention_becomes_a_card_at_once_and_a_dropped_stream_misses_nothing() {
    let fake = MastodonFake::start().await;
    // Polls every 60 s (every 4 minutes while the stream is up): only the stream explains a
    // card within the test's seconds.
    let app = TestApp::spawn_with(&streaming_toml(&fake, "60s")).await;
    wait_until("the stream", || fake.open_streams() == 1).await;
    let stream = &fake.server.requests_to("GET", STREAM)[0];
    assert_eq!(stream.header("authorization"), Some("Bearer token-acme"));
    assert_eq!(stream.header("accept"), Some("text/event-stream"));

    fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;

    // A malformed event and a heartbeat are skipped; the stream goes on.
    fake.stream_raw("event: notification\ndata: {not json\n\n:thump\n");
    fake.mention("kim@other.example", CRASH);
    app.wait_for("mentions", |m| m.len() == 2).await;

    // A mention the stream never told (it came as the connection died), then the stream
    // drops and is refused twice: the poll on the drop and the catch-up poll on reconnect
    // read it anyway.
    fake.refuse_streams(2);
    fake.post_unstreamed(Post::by(
        "sam",
        "the app crashes on login again, refund please",
    ));
    fake.drop_streams();
    let messages = app.wait_for("mentions", |m| m.len() == 3).await;
    assert_eq!(
        handles(&messages),
        [
            "jo@mastodon.example",
            "kim@other.example",
            "sam@mastodon.example"
        ]
    );
    wait_until("the stream back", || fake.open_streams() == 1).await;
    assert!(fake.server.requests_to("GET", STREAM).len() >= 4);
    // Back on the stream: pushes work again.
    fake.mention("lee", "my refund never arrived and support ignores me");
    app.wait_for("mentions", |m| m.len() == 4).await;
    let cases: HashSet<u64> = app
        .messages("mentions")
        .await
        .iter()
        .filter_map(|m| m["card"]["case_id"].as_u64())
        .collect();
    assert_eq!(cases.len(), 4, "no card twice");
}

#[tokio::test]
async fn without_a_stream_polling_carries_on_and_reconnects_back_off() {
    let fake = MastodonFake::start().await;
    fake.refuse_streams(usize::MAX);
    let app = TestApp::spawn_with(&streaming_toml(&fake, "100ms")).await;
    fake.mention("jo", ORDER);
    app.wait_for("mentions", |m| m.len() == 1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let attempts = fake.server.requests_to("GET", STREAM).len();
    // 200 ms, 400 ms, 800 ms … between attempts: a handful in a second, not hundreds.
    assert!((1..=6).contains(&attempts), "{attempts} stream attempts");
    assert_eq!(fake.open_streams(), 0);
    assert_eq!(app.messages("mentions").await.len(), 1);
}
