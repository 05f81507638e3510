//! The Bluesky source against the fake PDS: mentions become cards, replies become posts in the
//! customer's thread, and sessions, cursors, rate limits and bad payloads are handled.

use std::time::Duration;

use chrono::Utc;
use mentiondesk::config::Secret;
use mentiondesk::domain::{Network, PostRef};
use mentiondesk::sources::bluesky::{BlueskySettings, BlueskySource};
use mentiondesk::sources::{ReplyRequest, SourceClient, SourceError};
use serde_json::{json, Value};

use crate::fakes::bluesky::{did_for, is_tid, FakePds, APP_PASSWORD, BRAND_DID, BRAND_HANDLE};
use crate::fakes::Fault;
use crate::helpers::{card_of, thread_texts, TestApp};

const COMPLAINT: &str = "@acme.bsky.social my order never arrived and support ignores me";
const LIST: &str = "/xrpc/app.bsky.notification.listNotifications";
const CREATE: &str = "/xrpc/com.atproto.repo.createRecord";

async fn app_with_pds() -> (TestApp, FakePds) {
    let pds = FakePds::start().await;
    let app = TestApp::spawn_with(&pds.source_toml("bsky")).await;
    (app, pds)
}

/// The source alone, with a short request timeout.
fn client(pds: &FakePds, timeout: Duration) -> BlueskySource {
    BlueskySource::new(BlueskySettings {
        name: "bsky".into(),
        base_url: pds.server.base_url.clone(),
        web_url: "https://bsky.app".into(),
        identifier: BRAND_HANDLE.into(),
        app_password: Secret::new(APP_PASSWORD),
        poll_interval: Duration::from_millis(50),
        backfill: Duration::from_secs(3600),
        request_timeout: timeout,
        keywords: Vec::new(),
        appview_url: None,
    })
    .expect("client builds")
}

fn cards(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|message| message["card"]["kind"]["type"] == "case")
        .collect()
}

#[tokio::test]
async fn a_mention_becomes_a_case_and_a_card_and_nothing_else_does() {
    let (app, pds) = app_with_pds().await;
    // Older than the backfill window, a like, the brand's own post: none of them is a case.
    pds.publish(
        "old.bsky.social",
        "@acme.bsky.social my package is lost, this is terrible",
        None,
        Some("mention"),
        Utc::now() - chrono::Duration::hours(2),
    );
    let own = pds.publish(
        BRAND_HANDLE,
        "@acme.bsky.social the app is down, we are on it",
        None,
        Some("mention"),
        Utc::now(),
    );
    pds.notify_raw(json!({
        "uri": "at://did:plc:fan/app.bsky.feed.like/3lbqxw4ezwk2c",
        "cid": "bafyreilike",
        "author": { "did": "did:plc:fan", "handle": "fan.bsky.social" },
        "reason": "like",
        "reasonSubject": own.uri,
        "record": { "$type": "app.bsky.feed.like", "subject": own.strong_ref(), "createdAt": "2026-11-20T09:00:00.000Z" },
        "isRead": false,
        "indexedAt": crate::fakes::bluesky::timestamp(Utc::now()),
    }));
    let post = pds.mention("jo.bsky.social", COMPLAINT);

    let messages = app.wait_for("mentions", |m| !cards(m).is_empty()).await;
    let card = &card_of(&messages, 1).expect("case 1")["card"];
    assert_eq!(card["network"], "bluesky");
    assert_eq!(card["author_handle"], "jo.bsky.social");
    assert_eq!(card["author_name"], "Jo");
    assert_eq!(
        card["post_url"],
        format!("https://bsky.app/profile/jo.bsky.social/post/{}", post.rkey)
    );
    assert_eq!(card["text"], COMPLAINT);

    // A few more polls: still one card.
    let polls = pds.server.requests_to("GET", LIST).len();
    while pds.server.requests_to("GET", LIST).len() < polls + 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cards(&app.messages("mentions").await).len(), 1);

    // What the PDS saw: one sign-in, notifications asked for our three reasons only.
    let sign_ins = pds
        .server
        .requests_to("POST", "/xrpc/com.atproto.server.createSession");
    assert_eq!(sign_ins.len(), 1);
    assert_eq!(
        sign_ins[0].json(),
        json!({ "identifier": BRAND_HANDLE, "password": APP_PASSWORD })
    );
    let list = &pds.server.requests_to("GET", LIST)[0];
    assert!(list
        .header("authorization")
        .unwrap()
        .starts_with("Bearer access-"));
    let reasons: Vec<String> = url::form_urlencoded::parse(list.query.as_bytes())
        .filter(|(key, _)| key == "reasons")
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(reasons, ["mention", "reply", "quote"]);
}

#[tokio::test]
async fn the_cursor_survives_a_restart_without_duplicates_or_gaps() {
    let (mut app, pds) = app_with_pds().await;
    pds.mention("jo.bsky.social", COMPLAINT);
    app.wait_for("mentions", |m| cards(m).len() == 1).await;

    app.stop().await;
    // Posted while the bot is down: it must arrive after the restart, and only it.
    pds.mention(
        "kim.bsky.social",
        "@acme.bsky.social the app crashes on login again, useless",
    );
    let app = app.restart().await;
    let messages = app.wait_for("mentions", |m| cards(m).len() >= 2).await;
    assert_eq!(cards(&messages).len(), 2);
    assert_eq!(
        card_of(&messages, 2).unwrap()["card"]["author_handle"],
        "kim.bsky.social"
    );

    let polls = pds.server.requests_to("GET", LIST).len();
    while pds.server.requests_to("GET", LIST).len() < polls + 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cards(&app.messages("mentions").await).len(), 2);
    // The restarted app kept its session? No: sessions are in memory, so it signed in again.
    assert_eq!(pds.session_counts().0, 2);
}

#[tokio::test]
async fn the_watermark_delivers_each_notification_once_even_when_indexed_late() {
    let pds = FakePds::start().await;
    let source = client(&pds, Duration::from_secs(5));
    let first = pds.mention("jo.bsky.social", COMPLAINT);
    let fetched = source.fetch(None).await.expect("first fetch");
    let ids: Vec<&str> = fetched.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [first.uri.as_str()]);
    let cursor = fetched.cursor.expect("a cursor");

    // Nothing new: nothing delivered, and the same cursor.
    let again = source.fetch(Some(&cursor)).await.unwrap();
    assert!(again.mentions.is_empty());
    assert_eq!(again.cursor.as_deref(), Some(cursor.as_str()));

    // A new post, and one that the AppView indexed late (older indexedAt than the newest).
    let second = pds.mention("kim.bsky.social", "@acme.bsky.social refund please");
    let late = pds.publish(
        "lee.bsky.social",
        "@acme.bsky.social still waiting",
        None,
        Some("mention"),
        Utc::now() - chrono::Duration::minutes(5),
    );
    let next = source.fetch(Some(&cursor)).await.unwrap();
    let mut ids: Vec<&str> = next.mentions.iter().map(|m| m.id.as_str()).collect();
    ids.sort();
    let mut expected = vec![second.uri.as_str(), late.uri.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    // Oldest first.
    assert_eq!(next.mentions[0].id, late.uri);
    let after = source.fetch(next.cursor.as_deref()).await.unwrap();
    assert!(after.mentions.is_empty());
}

#[tokio::test]
async fn a_follow_up_joins_the_case_and_a_reply_threads_under_the_customer() {
    let (app, pds) = app_with_pds().await;
    let first = pds.mention("jo.bsky.social", COMPLAINT);
    app.wait_for("mentions", |m| cards(m).len() == 1).await;
    // Jo adds to their own thread, mentioning the brand again.
    let second = pds.reply(
        "jo.bsky.social",
        "@acme.bsky.social it has been two weeks now",
        &first,
        Some("mention"),
    );
    let card = app.wait_for_card(1, "new", 1).await;
    assert_eq!(
        thread_texts(&card),
        ["@jo.bsky.social wrote: “@acme.bsky.social it has been two weeks now”"]
    );

    // Ana replies; the handle comes after a 4-byte emoji.
    let text = "🙏 @jo.bsky.social so sorry! We reshipped it today.";
    let reply = app.button(1, "reply").await;
    let (status, body) = app.act("Ana", &reply, json!({ "text": text })).await;
    assert_eq!(status, 200, "{body}");
    let card = app.wait_for_card(1, "replied", 3).await;
    assert_eq!(cards(&app.messages("mentions").await).len(), 1);

    let creates = pds.server.requests_to("POST", CREATE);
    assert_eq!(creates.len(), 1);
    let input = creates[0].json();
    assert_eq!(input["repo"], BRAND_DID);
    assert_eq!(input["collection"], "app.bsky.feed.post");
    let rkey = input["rkey"].as_str().unwrap();
    assert!(is_tid(rkey), "{rkey}");
    let record = &input["record"];
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert_eq!(record["text"], text);
    assert!(chrono::DateTime::parse_from_rfc3339(record["createdAt"].as_str().unwrap()).is_ok());
    assert_eq!(record["reply"]["parent"], second.strong_ref());
    assert_eq!(record["reply"]["root"], first.strong_ref());
    assert_eq!(record["langs"], json!(["en"]));
    // "🙏" is 4 bytes and the space 1: "@jo.bsky.social" is bytes 5..20.
    assert_eq!(
        record["facets"],
        json!([{
            "index": { "byteStart": 5, "byteEnd": 20 },
            "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": did_for("jo.bsky.social") }],
        }])
    );
    assert_eq!(&text.as_bytes()[5..20], b"@jo.bsky.social");
    let posted = pds.brand_posts();
    assert_eq!(posted.len(), 1);
    let our_uri = format!("at://{BRAND_DID}/app.bsky.feed.post/{rkey}");
    assert_eq!(posted[0]["uri"], our_uri);
    let note = card["thread"].as_array().unwrap().last().unwrap().clone();
    assert!(
        note.to_string().contains(&format!(
            "https://bsky.app/profile/{BRAND_HANDLE}/post/{rkey}"
        )),
        "{note}"
    );

    // Jo answers our reply: a `reply` notification, which joins the case again.
    let ours = pds.brand_post(0);
    pds.reply(
        "jo.bsky.social",
        "still nothing in the mail",
        &ours,
        Some("reply"),
    );
    let card = app.wait_for_card(1, "customer_replied", 4).await;
    assert!(thread_texts(&card)
        .last()
        .unwrap()
        .contains("still nothing in the mail"));
    assert_eq!(cards(&app.messages("mentions").await).len(), 1);
}

fn reply_request(post: &crate::fakes::bluesky::Post) -> ReplyRequest {
    ReplyRequest {
        reply_id: "c1-v2".into(),
        in_reply_to: PostRef::new(Network::Bluesky, post.uri.clone()),
        root: PostRef::new(Network::Bluesky, post.uri.clone()),
        customer_handle: "jo.bsky.social".into(),
        text: "@jo.bsky.social sorry about that, reshipped today".into(),
    }
}

#[tokio::test]
async fn a_reply_retried_after_a_timeout_creates_one_post() {
    let pds = FakePds::start().await;
    let source = client(&pds, Duration::from_millis(300));
    let post = pds.mention("jo.bsky.social", COMPLAINT);
    let request = reply_request(&post);
    // The PDS commits the post but answers after our timeout: the client looks the record
    // key up before reporting a failure, and finds its post.
    pds.slow_next_create(Duration::from_millis(900));
    let receipt = source
        .reply(&request)
        .await
        .expect("found after the timeout");
    let posted = pds.brand_posts();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(receipt.post_id, posted[0]["uri"]);
    let get_record = "/xrpc/com.atproto.repo.getRecord";
    assert_eq!(pds.server.requests_to("GET", get_record).len(), 1);

    // The outbox tries again anyway (a crash after posting, before recording it): same
    // record key, the PDS refuses it with a 500, and the lookup finds our post again.
    assert_eq!(source.reply(&request).await.unwrap(), receipt);
    assert_eq!(pds.brand_posts().len(), 1);
    let creates = pds.server.requests_to("POST", CREATE);
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0].json()["rkey"], creates[1].json()["rkey"]);
    assert_eq!(pds.server.requests_to("GET", get_record).len(), 2);
}

#[tokio::test]
async fn a_reply_that_timed_out_before_the_pds_acted_is_posted_by_the_retry() {
    let pds = FakePds::start().await;
    let source = client(&pds, Duration::from_millis(300));
    let post = pds.mention("jo.bsky.social", COMPLAINT);
    let request = reply_request(&post);
    // The request hangs before the PDS handles it; we give up and it never lands.
    pds.server
        .inject(CREATE, Fault::Delay(Duration::from_millis(900)));
    let first = source.reply(&request).await;
    assert!(matches!(first, Err(SourceError::Transient(_))), "{first:?}");
    let receipt = source.reply(&request).await.expect("the retry posts");
    let posted = pds.brand_posts();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(receipt.post_id, posted[0]["uri"]);
}

#[tokio::test]
async fn a_refused_reply_reports_the_networks_error_and_posts_nothing() {
    let pds = FakePds::start().await;
    let source = client(&pds, Duration::from_secs(5));
    let post = pds.mention("jo.bsky.social", COMPLAINT);
    let request = ReplyRequest {
        reply_id: "c1-v2".into(),
        in_reply_to: PostRef::new(Network::Bluesky, post.uri.clone()),
        root: PostRef::new(Network::Bluesky, post.uri.clone()),
        customer_handle: "jo.bsky.social".into(),
        text: "x".repeat(301),
    };
    let refused = source.reply(&request).await;
    assert!(
        matches!(refused, Err(SourceError::Rejected(_))),
        "{refused:?}"
    );
    // A deleted post can't be answered: a refusal with a reason, not a retry.
    let gone = ReplyRequest {
        in_reply_to: PostRef::new(
            Network::Bluesky,
            "at://did:plc:jo/app.bsky.feed.post/3lbqxw4ezwk2c",
        ),
        text: "@jo.bsky.social hello".into(),
        ..request
    };
    let refused = source.reply(&gone).await;
    assert!(
        matches!(&refused, Err(SourceError::Rejected(message)) if message.contains("deleted")),
        "{refused:?}"
    );
    assert!(pds.brand_posts().is_empty());
    assert!(pds.server.requests_to("POST", CREATE).is_empty());
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_a_dead_session_signs_in_again() {
    let (app, pds) = app_with_pds().await;
    pds.mention("jo.bsky.social", COMPLAINT);
    app.wait_for("mentions", |m| cards(m).len() == 1).await;

    pds.expire_access_tokens();
    pds.mention(
        "kim.bsky.social",
        "@acme.bsky.social the app crashes on login again, useless",
    );
    app.wait_for("mentions", |m| cards(m).len() == 2).await;
    assert_eq!(pds.session_counts(), (1, 1));
    let refresh = pds
        .server
        .requests_to("POST", "/xrpc/com.atproto.server.refreshSession");
    assert_eq!(refresh.len(), 1);
    assert!(refresh[0]
        .header("authorization")
        .unwrap()
        .starts_with("Bearer refresh-"));

    pds.expire_all_tokens();
    pds.mention(
        "lee.bsky.social",
        "@acme.bsky.social charged twice and no refund, awful",
    );
    app.wait_for("mentions", |m| cards(m).len() == 3).await;
    assert_eq!(pds.session_counts(), (2, 1));
}

#[tokio::test]
async fn a_spent_rate_limit_budget_is_waited_out_not_hammered() {
    let (app, pds) = app_with_pds().await;
    pds.mention("jo.bsky.social", COMPLAINT);
    app.wait_for("mentions", |m| cards(m).len() == 1).await;

    // The budget is spent until the next second: the PDS answers 429 with ratelimit-reset.
    pds.set_rate_budget(0, 1);
    pds.mention(
        "kim.bsky.social",
        "@acme.bsky.social the app crashes on login again, useless",
    );
    app.wait_for("mentions", |m| cards(m).len() == 2).await;
    // Polling every 50ms, an impatient client would have been refused ~20 times. (Zero is
    // possible on a slow machine: the one-second window can roll over before the next poll.)
    let refused = pds.rate_limited();
    assert!(refused <= 2, "refused {refused} times");
}

#[tokio::test]
async fn rate_limit_headers_become_waits() {
    let pds = FakePds::start().await;
    let source = client(&pds, Duration::from_secs(5));
    pds.mention("jo.bsky.social", COMPLAINT);
    // The sign-in and two pages (the second one empty) use the last requests of the window.
    pds.set_rate_budget(3, 30);
    let fetched = source.fetch(None).await.unwrap();
    assert_eq!(fetched.mentions.len(), 1);
    let wait = fetched.wait.expect("remaining 0 asks for a wait");
    assert!(
        (Duration::from_secs(29)..=Duration::from_secs(32)).contains(&wait),
        "{wait:?}"
    );
    match source.fetch(fetched.cursor.as_deref()).await {
        Err(SourceError::RateLimited { retry_after }) => {
            assert!(retry_after > Duration::from_secs(28), "{retry_after:?}");
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_payloads_are_skipped() {
    let (app, pds) = app_with_pds().await;
    // A whole page that is not JSON: the poll fails, backs off, and tries again.
    pds.server.inject(LIST, Fault::Malformed);
    let now = crate::fakes::bluesky::timestamp(Utc::now());
    for broken in [
        json!({ "uri": "at://did:plc:x/app.bsky.feed.post/3aaaaaaaaaaa2", "reason": "mention", "indexedAt": now }),
        json!({ "uri": "at://did:plc:y/app.bsky.feed.post/3aaaaaaaaaaa3", "cid": "bafy", "reason": "mention",
                "author": { "did": "did:plc:y", "handle": "y.bsky.social" },
                "record": { "$type": "app.bsky.feed.post", "createdAt": now }, "isRead": false, "indexedAt": now }),
        json!({ "uri": "at://did:plc:z/app.bsky.feed.post/3aaaaaaaaaaa4", "reason": "mention", "indexedAt": "yesterday" }),
    ] {
        pds.notify_raw(broken);
    }
    pds.mention("jo.bsky.social", COMPLAINT);
    let messages = app.wait_for("mentions", |m| !cards(m).is_empty()).await;
    assert_eq!(cards(&messages).len(), 1);
    assert_eq!(
        card_of(&messages, 1).unwrap()["card"]["author_handle"],
        "jo.bsky.social"
    );
    let health = app.health().await;
    assert!(health.to_string().contains("source:bsky"), "{health}");
}

#[tokio::test]
async fn a_brand_reply_made_on_bluesky_outside_the_bot_shows_on_the_card_and_stops_the_clock() {
    let (app, pds) = app_with_pds().await;
    pds.mention("jo.bsky.social", COMPLAINT);
    let messages = app.wait_for("mentions", |m| cards(m).len() == 1).await;
    assert!(card_of(&messages, 1).unwrap()["card"]["first_response_due"].is_string());

    // Our reply through the bot lands in the brand's feed too: not "outside".
    let reply = app.button(1, "reply").await;
    let (status, body) = app
        .act(
            "Ana",
            &reply,
            json!({ "text": "@jo.bsky.social sorry, on it" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 1).await;

    // Kim's complaint is answered from the Bluesky app by the social team.
    let kims = pds.mention(
        "kim.bsky.social",
        "@acme.bsky.social the app crashes on login again, useless",
    );
    app.wait_for("mentions", |m| cards(m).len() == 2).await;
    pds.brand_reply(&kims, "@kim.bsky.social we sent you a DM with a fix");
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
    assert!(note.contains("we sent you a DM with a fix"), "{note}");
    // A few more polls: nothing twice, and our own reply never counted as outside.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = app.messages("mentions").await;
    let outside = |case| {
        thread_texts(card_of(&messages, case).unwrap())
            .iter()
            .filter(|t| t.contains("outside"))
            .count()
    };
    assert_eq!((outside(1), outside(2)), (0, 1));

    let feeds = pds
        .server
        .requests_to("GET", "/xrpc/app.bsky.feed.getAuthorFeed");
    assert!(!feeds.is_empty());
    for read in &feeds {
        let query = url::form_urlencoded::parse(read.query.as_bytes())
            .into_owned()
            .collect::<std::collections::HashMap<String, String>>();
        assert_eq!(query["actor"], BRAND_DID);
        assert_eq!(query["filter"], "posts_with_replies");
        assert!(read.header("authorization").is_some());
    }
}

#[tokio::test]
async fn keyword_hits_from_search_become_cards_once_alongside_notifications() {
    let pds = FakePds::start().await;
    let app = TestApp::spawn_with(&format!(
        "{}keywords = [\"acme app\"]\nappview_url = \"{}\"\n",
        pds.source_toml("bsky"),
        pds.server.base_url
    ))
    .await;
    // A keyword hit nobody notified us of, and a mention that matches the keyword too.
    pds.publish(
        "kim.bsky.social",
        "the acme app crashes on login again, useless and broken",
        None,
        None,
        Utc::now(),
    );
    pds.mention(
        "jo.bsky.social",
        "@acme.bsky.social the acme app lost my order, terrible service",
    );
    pds.publish(
        "sam.bsky.social",
        "lovely weather today",
        None,
        None,
        Utc::now(),
    );
    app.wait_for("mentions", |m| cards(m).len() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = app.messages("mentions").await;
    assert_eq!(cards(&messages).len(), 2, "one card each");
    let kim = messages
        .iter()
        .find(|m| m["card"]["author_handle"] == "kim.bsky.social")
        .expect("the keyword hit has a card");
    assert!(kim["card"]["post_url"]
        .as_str()
        .unwrap()
        .starts_with("https://bsky.app/profile/kim.bsky.social/post/"));

    let searches = pds
        .server
        .requests_to("GET", "/xrpc/app.bsky.feed.searchPosts");
    assert!(!searches.is_empty());
    for search in &searches {
        let query = url::form_urlencoded::parse(search.query.as_bytes())
            .into_owned()
            .collect::<std::collections::HashMap<String, String>>();
        assert_eq!(query["q"], "\"acme app\"");
        assert_eq!(query["sort"], "latest");
        assert!(chrono::DateTime::parse_from_rfc3339(&query["since"]).is_ok());
        assert_eq!(
            search.header("authorization"),
            None,
            "the AppView is asked without the PDS session"
        );
    }

    // The search's mark survives a restart: nothing is carded twice.
    let app = app.restart().await;
    pds.publish(
        "lee.bsky.social",
        "acme app refund still missing, awful support",
        None,
        None,
        Utc::now(),
    );
    app.wait_for("mentions", |m| cards(m).len() == 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cards(&app.messages("mentions").await).len(), 3);
}

#[tokio::test]
async fn a_backfill_shorter_than_the_overlap_never_lets_older_posts_in_later() {
    let pds = FakePds::start().await;
    // Ten minutes old: outside a five-minute backfill, inside the 15-minute overlap.
    pds.publish(
        "old.bsky.social",
        "@acme.bsky.social my order never arrived, still waiting, awful",
        None,
        Some("mention"),
        Utc::now() - chrono::Duration::minutes(10),
    );
    let app = TestApp::spawn_with(&format!("{}backfill = \"5m\"\n", pds.source_toml("bsky"))).await;
    pds.mention("jo.bsky.social", COMPLAINT);
    app.wait_for("mentions", |m| cards(m).len() == 1).await;
    // Many polls later (every 50 ms), and after a restart, the old post still has no card.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let app = app.restart().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let messages = app.messages("mentions").await;
    assert_eq!(cards(&messages).len(), 1, "{messages:?}");
    assert_eq!(messages[0]["card"]["author_handle"], "jo.bsky.social");
}
