//! The X source against the fake X API: mentions to cases, the cursor, conversations, replies
//! posted exactly once, rate limits, malformed answers and the monthly budget.

use std::time::Duration;

use chrono::Utc;
use mentiondesk::app::Overrides;
use mentiondesk::config::Secret;
use mentiondesk::domain::{Network, PostRef};
use mentiondesk::sources::x::{XSettings, XSource};
use mentiondesk::sources::{ReplyRequest, SourceClient, SourceError};
use mentiondesk::store::Store;
use serde_json::{json, Value};

use crate::fakes::x::{parse_query, FakeX, BEARER, BRAND_ID, OAUTH};
use crate::fakes::Fault;
use crate::helpers::{card_of, thread_texts, TestApp};

const JO: &str = "2000000001";

fn complaint(n: usize) -> String {
    format!("@AcmeSupport order #{n} never arrived and still no refund, terrible service")
}

async fn fake_with_jo() -> FakeX {
    let fake = FakeX::start().await;
    fake.add_user(JO, "jo_x", "Jo", 12);
    fake
}

/// Waits until the console shows `count` cards.
async fn cards(app: &TestApp, count: usize) -> Vec<Value> {
    app.wait_for("mentions", |messages| {
        messages
            .iter()
            .filter(|m| m["card"]["kind"]["type"] == "case")
            .count()
            >= count
    })
    .await
}

/// The exactly-once checks' reads of our own tweets (the poll's reads of the same timeline,
/// for answers made outside mentiondesk, expand the authors; the check does not).
fn exactly_once_checks(fake: &FakeX) -> Vec<crate::fakes::Recorded> {
    fake.server
        .requests_to("GET", &format!("/2/users/{BRAND_ID}/tweets"))
        .into_iter()
        .filter(|request| !parse_query(&request.query).contains_key("expansions"))
        .collect()
}

/// Waits until `ready` holds for the X source's health.
async fn wait_for_health(app: &TestApp, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let health = app.health().await;
        if ready(&health["components"]["source:x"]) {
            return health;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never got there: {health}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn mentions_page_into_cases_and_the_cursor_survives_a_restart() {
    let fake = fake_with_jo().await;
    // More than one page (X returns at most 100 per request).
    let ids: Vec<String> = (1..=103)
        .map(|n| fake.tweet(JO, &complaint(n), None))
        .collect();
    let app = TestApp::spawn_with(&fake.source_toml("x", "")).await;
    let messages = cards(&app, 103).await;
    assert_eq!(messages.len(), 103);
    let first = card_of(&messages, 1).unwrap();
    assert_eq!(first["card"]["author_handle"], "jo_x");
    assert!(
        first.to_string().contains("order #1 never"),
        "oldest first: {first}"
    );

    let queries = fake.mentions_queries();
    let start = &queries[0];
    assert_eq!(
        start.get("since_id"),
        None,
        "first start reads the backfill window"
    );
    assert!(start.contains_key("start_time"));
    assert_eq!(start["max_results"], "100");
    assert_eq!(start["expansions"], "author_id");
    assert_eq!(
        start["tweet.fields"],
        "conversation_id,created_at,referenced_tweets,in_reply_to_user_id,lang"
    );
    assert_eq!(start["user.fields"], "username,name,public_metrics");
    assert!(queries[1].contains_key("pagination_token"), "{queries:?}");
    assert_eq!(queries[1]["start_time"], start["start_time"]);
    let newest = ids.last().unwrap();
    let later: Vec<_> = queries.iter().skip(2).collect();
    assert!(
        later
            .iter()
            .all(|q| q.get("since_id") == Some(newest) && !q.contains_key("pagination_token")),
        "then polls from the newest id: {later:?}"
    );

    // Stop, let two more arrive while down, start again on the same store.
    let mut app = app;
    app.stop().await;
    let before_restart = fake.mentions_queries().len();
    let late: Vec<String> = (104..=105)
        .map(|n| fake.tweet(JO, &complaint(n), None))
        .collect();
    let app = app.restart().await;
    let messages = cards(&app, 105).await;
    let queries = fake.mentions_queries();
    assert_eq!(
        queries[before_restart].get("since_id"),
        Some(newest),
        "the stored cursor"
    );
    assert!(!queries[before_restart].contains_key("start_time"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let messages_after = app.messages("mentions").await;
    assert_eq!(messages_after.len(), messages.len(), "no duplicates");
    assert_eq!(messages_after.len(), 105, "no gaps");
    let last = card_of(&messages_after, 105).unwrap().to_string();
    assert!(last.contains(&late[1]), "{last}");
}

#[tokio::test]
async fn old_tweets_and_retweets_open_no_case() {
    let fake = fake_with_jo().await;
    fake.tweet_at(
        JO,
        &complaint(1),
        None,
        Utc::now() - chrono::Duration::hours(2),
    );
    let original = fake.tweet(BRAND_ID, "@AcmeSupport status update", None);
    fake.retweet(JO, &original);
    let fresh = fake.tweet(JO, &complaint(2), None);
    let app = TestApp::spawn_with(&fake.source_toml("x", "")).await;
    let messages = cards(&app, 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let messages_after = app.messages("mentions").await;
    assert_eq!(messages_after.len(), 1, "{messages_after:?}");
    assert!(messages[0].to_string().contains(&fresh));
    let start = &fake.mentions_queries()[0]["start_time"];
    let start = chrono::DateTime::parse_from_rfc3339(start).unwrap();
    let expected = Utc::now() - chrono::Duration::hours(1);
    assert!(
        (start.with_timezone(&Utc) - expected).num_seconds().abs() < 30,
        "backfill of 1h: {start}"
    );
}

#[tokio::test]
async fn a_conversation_stays_one_case_and_our_reply_is_a_real_x_reply() {
    let fake = fake_with_jo().await;
    let app = TestApp::spawn_with(&fake.source_toml("x", "")).await;
    let opening = fake.tweet(JO, &complaint(1), None);
    cards(&app, 1).await;
    let follow_up = fake.tweet(
        JO,
        "@AcmeSupport it's the blue one, still nothing",
        Some(&opening),
    );
    let card = app.wait_for_card(1, "new", 1).await;
    assert_eq!(
        thread_texts(&card),
        ["@jo_x wrote: “@AcmeSupport it's the blue one, still nothing”"]
    );

    let text = "@jo_x so sorry & thanks for your patience: we've reshipped it today";
    let reply = app.button(1, "reply").await;
    let (status, body) = app.act("Ana", &reply, json!({ "text": text })).await;
    assert_eq!(status, 200, "{body}");
    let card = app.wait_for_card(1, "replied", 3).await;
    let posts = fake.server.requests_to("POST", "/2/tweets");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].json(),
        json!({ "text": text, "reply": { "in_reply_to_tweet_id": follow_up } }),
        "a reply to the latest customer tweet"
    );
    assert!(posts[0]
        .header("authorization")
        .unwrap()
        .starts_with("OAuth "));
    let ours = fake.brand_tweets();
    assert_eq!(ours.len(), 1);
    let our_id = ours[0]["id"].as_str().unwrap().to_string();
    assert!(
        card.to_string()
            .contains(&format!("https://x.com/i/web/status/{our_id}")),
        "the thread links our post: {card}"
    );
    let check = exactly_once_checks(&fake);
    assert_eq!(check.len(), 1, "looked for an earlier copy before posting");
    assert_eq!(
        check[0].header("authorization"),
        Some(format!("Bearer {BEARER}").as_str())
    );
    assert_eq!(parse_query(&check[0].query)["since_id"], follow_up);

    // The customer answers our reply: it joins the case.
    fake.tweet(
        JO,
        "@AcmeSupport thanks, but where's the tracking number?",
        Some(&our_id),
    );
    let card = app.wait_for_card(1, "customer_replied", 4).await;
    assert!(thread_texts(&card)
        .last()
        .unwrap()
        .contains("where's the tracking number?"));
    assert_eq!(app.messages("mentions").await.len(), 1, "still one card");
}

#[tokio::test]
async fn a_reply_that_times_out_after_x_accepted_it_is_not_posted_twice() {
    let fake = fake_with_jo().await;
    let app = TestApp::spawn_with_overrides(
        &fake.source_toml("x", ""),
        Overrides {
            request_timeout: Some(Duration::from_millis(500)),
        },
    )
    .await;
    let opening = fake.tweet(JO, &complaint(1), None);
    cards(&app, 1).await;

    // X creates the tweet, then answers only after the client has given up.
    fake.stall_next_post(Duration::from_secs(3));
    let reply = app.button(1, "reply").await;
    let text = "@jo_x we're on it, a replacement ships today";
    let (status, body) = app.act("Ana", &reply, json!({ "text": text })).await;
    assert_eq!(status, 200, "{body}");
    let card = app.wait_for_card(1, "replied", 2).await;

    let posts = fake.server.requests_to("POST", "/2/tweets");
    assert_eq!(posts.len(), 1, "posted once");
    assert_eq!(posts[0].json()["reply"]["in_reply_to_tweet_id"], opening);
    let ours = fake.brand_tweets();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let checks = exactly_once_checks(&fake);
    assert!(checks.len() >= 2, "the retry looked first and found it");
    assert!(
        !thread_texts(&card).iter().any(|t| t.contains("outside")),
        "our own reply, read back before its receipt, is not outside: {card}"
    );
    assert!(card.to_string().contains(&format!(
        "https://x.com/i/web/status/{}",
        ours[0]["id"].as_str().unwrap()
    )));
}

#[tokio::test]
async fn a_429_is_waited_out_until_the_reset_then_reading_resumes() {
    let fake = FakeX::start_with_mentions_window(450, Duration::from_secs(2)).await;
    fake.add_user(JO, "jo_x", "Jo", 12);
    let app = TestApp::spawn_with(&fake.source_toml("x", "")).await;
    fake.tweet(JO, &complaint(1), None);
    cards(&app, 1).await;

    fake.exhaust_mentions_window();
    fake.tweet(JO, &complaint(2), None);
    wait_for_health(&app, |source| source["last_error"] == "rate limited").await;
    cards(&app, 2).await;

    let served = fake.mentions_served();
    let limited: Vec<usize> = (0..served.len())
        .filter(|&i| served[i].status == 429)
        .collect();
    assert_eq!(limited.len(), 1, "no hammering after a 429");
    let next = &served[limited[0] + 1];
    assert!(
        next.at - served[limited[0]].at >= Duration::from_millis(900),
        "waited for x-rate-limit-reset"
    );
    wait_for_health(&app, |source| {
        source["last_success"].as_str() > source["last_error_at"].as_str()
    })
    .await;
}

#[tokio::test]
async fn a_used_up_window_is_waited_out_without_a_429() {
    let fake = FakeX::start_with_mentions_window(3, Duration::from_secs(2)).await;
    let app = TestApp::spawn_with(&fake.source_toml("x", "")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fake.mentions_served().len() < 5 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let served = fake.mentions_served();
    assert!(served.iter().all(|s| s.status == 200), "{served:?}");
    assert!(
        served[3].at - served[2].at >= Duration::from_millis(900),
        "x-rate-limit-remaining: 0 means wait for the reset"
    );
    drop(app);
}

#[tokio::test]
async fn malformed_answers_and_items_are_skipped() {
    let fake = fake_with_jo().await;
    fake.server
        .inject(&format!("/2/users/{BRAND_ID}/mentions"), Fault::Malformed);
    fake.add_raw_to_next_page(json!({
        "id": "1850000000000009999", "text": "@AcmeSupport refund never arrived",
        "author_id": "404", "created_at": "2026-11-20T09:00:00.000Z"
    }));
    fake.add_raw_to_next_page(json!({ "id": 7, "text": ["not text"] }));
    fake.add_error_to_next_page(json!({
        "value": "404", "detail": "Could not find user with id: [404].",
        "title": "Not Found Error", "resource_type": "user", "parameter": "id",
        "resource_id": "404", "type": "https://api.twitter.com/2/problems/resource-not-found"
    }));
    let good = fake.tweet(JO, &complaint(1), None);
    let app = TestApp::spawn_with(&fake.source_toml("x", "")).await;
    let messages = cards(&app, 1).await;
    assert!(messages[0].to_string().contains(&good));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.messages("mentions").await.len(), 1);
    assert!(
        fake.mentions_served().len() >= 2,
        "read again after the malformed answer"
    );
    wait_for_health(&app, |source| {
        source["last_success"].as_str() > source["last_error_at"].as_str()
    })
    .await;
}

#[tokio::test]
async fn reading_stops_at_the_monthly_budget_and_the_count_survives_a_restart() {
    let fake = fake_with_jo().await;
    fake.tweet(JO, &complaint(1), None);
    fake.tweet(JO, &complaint(2), None);
    let app = TestApp::spawn_with(&fake.source_toml("x", "monthly_read_budget = 4")).await;
    cards(&app, 2).await;
    assert_eq!(
        fake.mentions_queries()[0]["max_results"],
        "5",
        "X's minimum"
    );

    fake.tweet(JO, &complaint(3), None);
    fake.tweet(JO, &complaint(4), None);
    cards(&app, 4).await;
    let health = wait_for_health(&app, |source| {
        source["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("monthly read budget spent: 4 of 4"))
    })
    .await;
    assert_eq!(health["status"], "degraded");
    let reads = fake.mentions_queries().len();
    fake.tweet(JO, &complaint(5), None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.mentions_queries().len(),
        reads,
        "no read past the budget"
    );

    let app = app.restart().await;
    wait_for_health(&app, |source| {
        source["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("monthly read budget spent: 4 of 4"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.mentions_queries().len(),
        reads,
        "still none after a restart"
    );
    assert_eq!(app.messages("mentions").await.len(), 4);
}

#[tokio::test]
async fn a_reply_past_the_write_budget_is_refused_in_the_thread() {
    let fake = fake_with_jo().await;
    let app = TestApp::spawn_with(&fake.source_toml("x", "monthly_write_budget = 1")).await;
    fake.tweet(JO, &complaint(1), None);
    fake.tweet(JO, &complaint(2), None);
    cards(&app, 2).await;
    for case in [1, 2] {
        let reply = app.button(case, "reply").await;
        let (status, body) = app
            .act(
                "Ana",
                &reply,
                json!({ "text": format!("@jo_x sorry about order {case}") }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    app.wait_for_card(1, "replied", 2).await;
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 2).is_some_and(|card| {
                thread_texts(card)
                    .iter()
                    .any(|note| note.contains("Public reply by Ana failed"))
            })
        })
        .await;
    let notes = thread_texts(card_of(&messages, 2).unwrap());
    assert!(
        notes
            .iter()
            .any(|note| note.contains("monthly X write budget is spent (1 of 1 posts")),
        "{notes:?}"
    );
    assert_eq!(fake.server.requests_to("POST", "/2/tweets").len(), 1);
}

fn settings(fake: &FakeX) -> XSettings {
    XSettings {
        name: "x".to_string(),
        base_url: fake.server.base_url.clone(),
        user_id: BRAND_ID.to_string(),
        bearer_token: Secret::new(BEARER),
        consumer_key: Secret::new(OAUTH[0]),
        consumer_secret: Secret::new(OAUTH[1]),
        access_token: Secret::new(OAUTH[2]),
        access_token_secret: Secret::new(OAUTH[3]),
        poll_interval: Duration::from_secs(60),
        backfill: Duration::from_secs(3600),
        monthly_read_budget: 10,
        monthly_write_budget: 10,
        request_timeout: Duration::from_secs(5),
        budget_notice_at: 0.8,
        keywords: Vec::new(),
    }
}

#[tokio::test]
async fn polling_slows_down_past_80_percent_of_the_read_budget() {
    let fake = fake_with_jo().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let source = XSource::new(settings(&fake), store).unwrap();
    for n in 1..=7 {
        fake.tweet(JO, &complaint(n), None);
    }
    let fetched = source.fetch(None).await.unwrap();
    assert_eq!(fetched.mentions.len(), 7);
    assert_eq!(fetched.wait, Some(Duration::from_secs(60)), "70 %: normal");
    fake.tweet(JO, &complaint(8), None);
    let fetched = source.fetch(fetched.cursor.as_deref()).await.unwrap();
    assert_eq!(fetched.mentions.len(), 1);
    assert_eq!(
        fetched.wait,
        Some(Duration::from_secs(120)),
        "80 %: doubled"
    );
}

#[tokio::test]
async fn x_refuses_a_reply_over_280_weighted_characters_with_its_problem() {
    let fake = fake_with_jo().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let source = XSource::new(settings(&fake), store).unwrap();
    let target = fake.tweet(JO, &complaint(1), None);
    // 141 CJK characters weigh 282.
    let request = ReplyRequest {
        reply_id: "c1-v2".to_string(),
        in_reply_to: PostRef::new(Network::X, target.clone()),
        root: PostRef::new(Network::X, target),
        customer_handle: "jo_x".to_string(),
        text: "谢".repeat(141),
    };
    let error = source.reply(&request).await.unwrap_err();
    let SourceError::Rejected(message) = error else {
        panic!("expected a refusal, got {error:?}");
    };
    assert_eq!(
        message,
        "X answered HTTP 400: Invalid Request: One or more parameters to your request was invalid.: text: must be at most 280 weighted characters"
    );
    assert!(fake.brand_tweets().is_empty());
}

#[tokio::test]
async fn a_post_signed_with_the_wrong_secret_is_refused() {
    let fake = fake_with_jo().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut wrong = settings(&fake);
    wrong.access_token_secret = Secret::new("not-the-secret");
    let source = XSource::new(wrong, store).unwrap();
    let target = fake.tweet(JO, &complaint(1), None);
    let request = ReplyRequest {
        reply_id: "c1-v2".to_string(),
        in_reply_to: PostRef::new(Network::X, target.clone()),
        root: PostRef::new(Network::X, target),
        customer_handle: "jo_x".to_string(),
        text: "@jo_x sorry".to_string(),
    };
    let error = source.reply(&request).await.unwrap_err();
    assert_eq!(
        error,
        SourceError::Rejected("X answered HTTP 401: Unauthorized: Unauthorized".to_string())
    );
    let posts = fake.server.requests_to("POST", "/2/tweets");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        crate::fakes::x::oauth_problem(&fake.server.base_url, posts[0].header("authorization")),
        Some("signature does not match".to_string())
    );
    assert!(fake.brand_tweets().is_empty());
}

#[tokio::test]
async fn a_brand_reply_made_on_x_outside_the_bot_shows_on_the_card_and_stops_the_clock() {
    let fake = fake_with_jo().await;
    let app = TestApp::spawn_with(&fake.source_toml("x", "")).await;
    let opening = fake.tweet(JO, &complaint(1), None);
    let card = &cards(&app, 1).await[0];
    assert!(card["card"]["first_response_due"].is_string(), "{card}");

    // Our own reply through the bot is not "outside".
    let reply = app.button(1, "reply").await;
    let (status, body) = app
        .act(
            "Ana",
            &reply,
            json!({ "text": "@jo_x sorry, checking now" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 1).await;

    // A second complaint, answered from the X app by the brand's social team.
    let second = fake.tweet(JO, &complaint(2), None);
    cards(&app, 2).await;
    fake.tweet(
        BRAND_ID,
        "@jo_x we sent you a DM about order 2",
        Some(&second),
    );
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 2).is_some_and(|card| {
                thread_texts(card)
                    .iter()
                    .any(|t| t.contains("answered outside mentiondesk"))
            })
        })
        .await;
    let card = card_of(&messages, 2).unwrap();
    assert_eq!(card["card"]["state"], "replied", "{card}");
    assert!(
        card["card"]["first_response_due"].is_null(),
        "the first-response clock stopped: {card}"
    );
    let note = thread_texts(card)
        .into_iter()
        .find(|t| t.contains("answered outside"))
        .unwrap();
    assert!(
        note.starts_with("@AcmeSupport answered outside mentiondesk"),
        "{note}"
    );
    assert!(note.contains("we sent you a DM about order 2"), "{note}");
    let first = card_of(&messages, 1).unwrap();
    assert!(
        !thread_texts(first).iter().any(|t| t.contains("outside")),
        "our bot reply is not outside: {first}"
    );

    // The poll read our timeline with retweets left out, resuming after what it read.
    let reads: Vec<_> = fake
        .own_tweets_queries()
        .into_iter()
        .filter(|q| q.contains_key("expansions"))
        .collect();
    assert!(reads[0].contains_key("start_time"), "{:?}", reads[0]);
    assert!(reads.iter().all(|q| q["exclude"] == "retweets"));
    assert!(reads.iter().any(|q| q.get("since_id").is_some()));
    assert_eq!(opening.len(), 19);
}

#[tokio::test]
async fn the_ops_channel_hears_once_at_the_notice_share_and_once_when_spent() {
    let fake = fake_with_jo().await;
    for n in 1..=6 {
        fake.tweet(JO, &complaint(n), None);
    }
    let app = TestApp::spawn_with(
        &fake.source_toml("x", "monthly_read_budget = 10\nbudget_notice_at = 0.5"),
    )
    .await;
    cards(&app, 6).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.notices().await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no notice");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A few more polls (every 100 ms) say nothing more.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let seen = app.notices().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("X source x: 60 % of the monthly read budget is used (6 of 10 tweets"),
        "{seen:?}"
    );

    for n in 7..=10 {
        fake.tweet(JO, &complaint(n), None);
    }
    cards(&app, 10).await;
    while app.notices().await.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second notice");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = app.notices().await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[1].contains("the monthly read budget is spent (10 of 10 tweets"),
        "{seen:?}"
    );

    // A restart remembers both were sent.
    let app = app.restart().await;
    wait_for_health(&app, |source| {
        source["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("monthly read budget spent"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.notices().await.len(), 2);
}

#[tokio::test]
async fn keyword_hits_from_recent_search_become_cards_once_alongside_mentions() {
    let fake = fake_with_jo().await;
    fake.add_user("2000000002", "kim_x", "Kim", 40);
    let app =
        TestApp::spawn_with(&fake.source_toml("x", r#"keywords = ["acme app", "widgetco"]"#)).await;
    // A keyword hit without a mention, and a mention that matches a keyword too.
    fake.tweet(
        "2000000002",
        "the acme app crashes on login again, useless and broken",
        None,
    );
    fake.tweet(
        JO,
        "@AcmeSupport the acme app lost my order, terrible service",
        None,
    );
    // Not about us.
    fake.tweet("2000000002", "lovely weather today", None);
    let messages = cards(&app, 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let messages_after = app.messages("mentions").await;
    assert_eq!(messages_after.len(), 2, "one card each: {messages_after:?}");
    let handles: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["card"]["author_handle"].as_str())
        .collect();
    assert!(
        handles.contains(&"kim_x") && handles.contains(&"jo_x"),
        "{handles:?}"
    );

    let searches = fake.search_queries();
    assert_eq!(
        searches[0]["query"],
        "(\"acme app\" OR widgetco) -is:retweet"
    );
    assert!(searches[0].contains_key("start_time"));
    assert!(searches[0]["max_results"].parse::<u32>().unwrap() >= 10);
    assert_eq!(searches[0]["expansions"], "author_id");
    let newest = searches
        .iter()
        .filter_map(|q| q.get("since_id"))
        .next_back()
        .cloned();
    assert!(
        newest.is_some(),
        "later searches resume with since_id: {searches:?}"
    );

    // A keyword hit after a restart: the search cursor survived, so nothing is read twice.
    let app = app.restart().await;
    let before = fake.search_queries().len();
    fake.tweet(
        "2000000002",
        "widgetco by acme: support never answers, awful and broken",
        None,
    );
    cards(&app, 3).await;
    let after = &fake.search_queries()[before];
    assert!(after.contains_key("since_id"), "{after:?}");
    assert!(!after.contains_key("start_time"));
}
