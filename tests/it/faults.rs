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

#[tokio::test(start_paused = true)]
async fn every_network_source_rides_out_each_http_fault_and_loses_nothing() {
    let mastodon = MastodonFake::start().await;
    let pds = FakePds::start().await;
    let x = FakeX::start().await;
    x.add_user("2000000001", "jo_x", "Jo", 12);
    let x_mentions = format!("/2/users/{BRAND_ID}/mentions");
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
