//! The fault matrix's cheap cells (see RELIABILITY.md): every network source rides out each
//! HTTP fault the fakes can inject, the Slack and Discord adapters post each card exactly once
//! through them, and both chats come back after their socket is cut. Paused time: backoffs and
//! timeouts pass in no real time.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::fakes::bluesky::FakePds;
use crate::fakes::discord::FakeDiscord;
use crate::fakes::mastodon::MastodonFake;
use crate::fakes::slack::FakeSlack;
use crate::fakes::x::{FakeX, BRAND_ID};
use crate::fakes::Fault;
use crate::helpers::{complaint, within, TestApp};

const SLACK_MAIN: &str = "C0MENTIONS1";
const DISCORD_MAIN: &str = "500000000000000001";

fn case_cards(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["card"]["kind"]["type"] == "case")
        .collect()
}

/// The three networks' fakes (X with the customer `jo_x`), and the path of X's mentions.
async fn three_networks() -> (MastodonFake, FakePds, FakeX, String) {
    let mastodon = MastodonFake::start().await;
    let pds = FakePds::start().await;
    let x = FakeX::start().await;
    x.add_user("2000000001", "jo_x", "Jo", 12);
    (mastodon, pds, x, format!("/2/users/{BRAND_ID}/mentions"))
}

#[tokio::test(start_paused = true)]
async fn every_network_source_rides_out_each_http_fault_and_loses_nothing() {
    let (mastodon, pds, x, x_mentions) = three_networks().await;
    for fault in Fault::every_http() {
        mastodon
            .server
            .inject("/api/v1/notifications", fault.clone());
        pds.server.inject(
            "/xrpc/app.bsky.notification.listNotifications",
            fault.clone(),
        );
        x.server.inject(&x_mentions, fault);
    }
    let extra = format!(
        "{}{}{}",
        mastodon.source_toml("masto"),
        pds.source_toml("bsky"),
        x.source_toml("x", "")
    );
    let app = TestApp::spawn_with(&extra).await;
    mastodon.mention("jo", "my order never arrived and support ignores me");
    pds.mention(
        "jo.bsky.social",
        "@acme.bsky.social my order never arrived and support ignores me",
    );
    x.tweet(
        "2000000001",
        "@AcmeSupport order #1 never arrived and still no refund, terrible service",
        None,
    );

    // Backoffs of 1, 2, 4 and 8 s and a 3 s Retry-After, in paused time.
    let deadline = Instant::now() + Duration::from_secs(600);
    let messages = loop {
        let messages = app.messages("mentions").await;
        if case_cards(&messages).len() >= 3 {
            break messages;
        }
        assert!(Instant::now() < deadline, "three cards: {messages:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let messages = {
        let later = app.messages("mentions").await;
        assert_eq!(later.len(), messages.len(), "nothing carded twice");
        later
    };
    let networks: HashSet<String> = case_cards(&messages)
        .iter()
        .filter_map(|m| m["card"]["network"].as_str().map(str::to_string))
        .collect();
    assert_eq!(case_cards(&messages).len(), 3, "{messages:?}");
    assert_eq!(networks.len(), 3, "one card per network: {networks:?}");
    // Each source read past all five faults.
    assert!(
        mastodon
            .server
            .requests_to("GET", "/api/v1/notifications")
            .len()
            > 5
    );
    assert!(
        pds.server
            .requests_to("GET", "/xrpc/app.bsky.notification.listNotifications")
            .len()
            > 5
    );
    assert!(x.server.requests_to("GET", &x_mentions).len() > 5);
}

/// A query parameter of a recorded request.
fn query_param(request: &crate::fakes::Recorded, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// How many failed requests `/metrics` counts for `service` (every status).
async fn api_errors(app: &TestApp, service: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.http))
        .await
        .expect("metrics answers")
        .text()
        .await
        .expect("metrics text");
    let prefix = format!("mentiondesk_api_errors_total{{service=\"{service}\",");
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The networks' reads while their servers refuse connections (nobody listening) for twenty
/// minutes, with complaints arriving meanwhile: each source keeps trying but backs off (a few
/// tries, not one per 30 s poll), the ops channel hears of each exactly once, nothing is carded
/// while down; once the servers listen again each source reads from the cursor it had before
/// (Mastodon's `min_id`, X's `since_id`), every complaint has exactly one card, and each source's
/// recovery is announced once. Paused time.
#[tokio::test(start_paused = true)]
async fn every_network_source_refused_backs_off_is_announced_once_and_catches_up() {
    let (mastodon, pds, x, x_mentions) = three_networks().await;
    let slow = |toml: String, from: &str| toml.replace(from, "poll_interval = \"30s\"");
    let extra = format!(
        "health_notice_after = \"2m\"\n{}{}{}",
        slow(mastodon.source_toml("masto"), "poll_interval = \"50ms\""),
        slow(pds.source_toml("bsky"), "poll_interval = \"50ms\""),
        slow(x.source_toml("x", ""), "poll_interval = \"100ms\"")
    );
    // The replay source of the test config polls an empty file: slowed down too.
    let app = TestApp::spawn_with_config(|dir| {
        crate::helpers::test_config(dir, &extra).replacen(
            "poll_interval = \"50ms\"",
            "poll_interval = \"1h\"",
            1,
        )
    })
    .await;
    let post_one = |n: usize| {
        let text = format!("order #{n} never arrived and still no refund, terrible service");
        mastodon.mention("jo", &text);
        pds.mention("jo.bsky.social", &format!("@acme.bsky.social {text}"));
        x.tweet("2000000001", &format!("@AcmeSupport {text}"), None);
    };
    let cards_of = |messages: &[Value], n: usize| {
        let needle = format!("order #{n} never arrived");
        case_cards(messages)
            .iter()
            .filter(|m| m.to_string().contains(&needle))
            .filter_map(|m| m["card"]["network"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    post_one(1);
    let limit = Duration::from_secs(900);
    let deadline = Instant::now() + limit;
    while case_cards(&app.messages("mentions").await).len() < 3 {
        assert!(Instant::now() < deadline, "three cards before the outage");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // One more poll each, from the cursor after those cards.
    tokio::time::sleep(Duration::from_secs(60)).await;
    // Mastodon reads forward from its cursor (`min_id`), X after it (`since_id`).
    let last_since = |server: &crate::fakes::FakeServer, path: &str, param: &str| {
        server
            .requests_to("GET", path)
            .last()
            .and_then(|request| query_param(request, param))
    };
    let mastodon_cursor = last_since(&mastodon.server, "/api/v1/notifications", "min_id");
    let x_cursor = last_since(&x.server, &x_mentions, "since_id");
    assert!(
        mastodon_cursor.is_some() && x_cursor.is_some(),
        "{mastodon_cursor:?} {x_cursor:?}"
    );
    let servers = [
        ("source:masto", &mastodon.server, "/api/v1/notifications"),
        (
            "source:bsky",
            &pds.server,
            "/xrpc/app.bsky.notification.listNotifications",
        ),
        ("source:x", &x.server, x_mentions.as_str()),
    ];
    for (_, server, _) in &servers {
        server.refuse_connections().await;
    }
    let reads_before: Vec<usize> = servers
        .iter()
        .map(|(_, server, path)| server.requests_to("GET", path).len())
        .collect();
    post_one(2);
    tokio::time::sleep(Duration::from_secs(20 * 60)).await;

    let notices = app.notices().await;
    for (component, _, _) in &servers {
        check_notices(&notices, component, 1, "⚠️", "has been failing");
        let tries = api_errors(&app, component).await;
        // Backing off 1 s, 2 s, 4 s ... 256 s: about ten tries in twenty minutes, where the
        // 30 s poll interval alone would have made forty.
        assert!(
            (5..=15).contains(&tries),
            "{component} tried {tries} times in twenty minutes"
        );
    }
    assert_eq!(
        case_cards(&app.messages("mentions").await).len(),
        3,
        "nothing carded while down"
    );

    for (_, server, _) in &servers {
        server.accept_connections().await;
    }
    let deadline = Instant::now() + limit;
    loop {
        let messages = app.messages("mentions").await;
        if cards_of(&messages, 2).len() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the complaints made while down");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The first read after the outage asked from the cursor it had before.
    let first_after = |server: &crate::fakes::FakeServer, path: &str, index: usize, param: &str| {
        server
            .requests_to("GET", path)
            .get(reads_before[index])
            .and_then(|request| query_param(request, param))
    };
    assert_eq!(
        first_after(&mastodon.server, "/api/v1/notifications", 0, "min_id"),
        mastodon_cursor
    );
    assert_eq!(first_after(&x.server, &x_mentions, 2, "since_id"), x_cursor);
    tokio::time::sleep(Duration::from_secs(5 * 60)).await;
    let messages = app.messages("mentions").await;
    for n in [1, 2] {
        let mut networks = cards_of(&messages, n);
        networks.sort();
        assert_eq!(
            networks,
            ["bluesky", "mastodon", "x"],
            "complaint {n}: one card per network"
        );
    }
    let notices = app.notices().await;
    for (component, _, _) in &servers {
        check_notices(&notices, component, 2, "✅", "works again");
    }
}

/// Checks that `notices` hold `count` about `component`, the last one `{mark} {component} {says}…`.
fn check_notices(notices: &[String], component: &str, count: usize, mark: &str, says: &str) {
    let about: Vec<&String> = notices.iter().filter(|n| n.contains(component)).collect();
    assert_eq!(about.len(), count, "{component}: {notices:?}");
    assert!(
        about[count - 1].starts_with(&format!("{mark} {component} {says}")),
        "{about:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn slack_posts_each_card_once_through_every_http_fault() {
    let slack = FakeSlack::start(&[SLACK_MAIN], &[]).await;
    let app = TestApp::spawn_with(&slack.config(SLACK_MAIN)).await;
    slack.wait_connected(1).await;
    for fault in Fault::every_http() {
        slack.server.inject("/api/chat.postMessage", fault);
    }
    app.post(&[complaint("p1", "jo"), complaint("p2", "kim")]);
    within(Duration::from_secs(600), "two Slack cards", || {
        slack.cards(SLACK_MAIN).len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let keys: Vec<String> = slack
        .cards(SLACK_MAIN)
        .iter()
        .filter_map(|card| card.key().map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 2, "exactly one card per case: {keys:?}");
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 2, "{keys:?}");
}

#[tokio::test(start_paused = true)]
async fn discord_posts_each_card_once_through_every_http_fault() {
    let discord = FakeDiscord::start(&[DISCORD_MAIN]).await;
    let app = TestApp::spawn_with(&discord.config(DISCORD_MAIN)).await;
    discord.wait_ready().await;
    for fault in Fault::every_http() {
        discord.server.inject("/api/v10/channels/", fault);
    }
    app.post(&[complaint("p1", "jo"), complaint("p2", "kim")]);
    within(Duration::from_secs(600), "two Discord cards", || {
        discord.cards(DISCORD_MAIN).len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let cards = discord.cards(DISCORD_MAIN);
    assert_eq!(cards.len(), 2, "exactly one card per case");
    assert!(discord.card(1).is_some() && discord.card(2).is_some());
}

#[tokio::test]
async fn slack_reconnects_after_its_socket_is_cut() {
    let slack = FakeSlack::start(&[SLACK_MAIN], &[]).await;
    let app = TestApp::spawn_with(&slack.config(SLACK_MAIN)).await;
    slack.wait_connected(1).await;
    slack.drop_sockets();
    slack.wait_connected(2).await;
    // Still delivering: a new complaint gets its card.
    app.post(&[complaint("p1", "jo")]);
    within(Duration::from_secs(15), "a card after the drop", || {
        slack.card(1).is_some()
    })
    .await;
}

#[tokio::test]
async fn discord_reconnects_after_its_gateway_socket_is_cut() {
    let discord = FakeDiscord::start(&[DISCORD_MAIN]).await;
    let app = TestApp::spawn_with(&discord.config(DISCORD_MAIN)).await;
    discord.wait_ready().await;
    let before = discord.connections();
    discord.drop_sockets();
    within(Duration::from_secs(15), "a new gateway connection", || {
        discord.connections() > before
    })
    .await;
    discord.wait_ready().await;
    app.post(&[complaint("p1", "jo")]);
    within(Duration::from_secs(15), "a card after the drop", || {
        discord.card(1).is_some()
    })
    .await;
}
