//! Slack end to end against the fake Slack: cards, clicks over Socket Mode, modals, threads,
//! escalation, rate limits and reconnects. The console stays on, so every test also shows that
//! an action in Slack updates both chats.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fakes::slack::{wait_until, FakeSlack, Posted};
use crate::fakes::Fault;
use crate::helpers::{check_chat_token, complaint, rewind_to_a_lost_card_record, TestApp};

const MAIN: &str = "C0MENTIONS1";
const TIER2: &str = "C0TIER20001";
const ANA: &str = "U0ANA00001";
const BO: &str = "U0BO000001";

async fn slack_app() -> (FakeSlack, TestApp) {
    let slack = FakeSlack::start(&[MAIN, TIER2], &[(ANA, "Ana"), (BO, "Bo")]).await;
    let extra = format!(
        "{}\n[[escalations]]\nid = \"tier2\"\nlabel = \"Tier 2\"\nslack_channel = \"{TIER2}\"\nmention = \"S0TIER2000\"\n",
        slack.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    slack.wait_connected(1).await;
    (slack, app)
}

async fn card(slack: &FakeSlack, case: u64) -> Posted {
    wait_until(&format!("the card of case {case}"), || {
        slack.card(case).is_some()
    })
    .await;
    slack.card(case).unwrap()
}

/// The value of the button (or overflow option) `verb` on the card's current blocks.
fn button(card: &Posted, verb: &str) -> String {
    let blocks = card.current()["blocks"].as_array().cloned().unwrap();
    for block in blocks.iter().filter(|b| b["type"] == "actions") {
        for element in block["elements"].as_array().unwrap() {
            if element["action_id"] == verb {
                return element["value"].as_str().unwrap().to_string();
            }
            for option in element["options"].as_array().into_iter().flatten() {
                let value = option["value"].as_str().unwrap();
                if value.starts_with(&format!("{verb}:")) {
                    return value.to_string();
                }
            }
        }
    }
    panic!("no {verb} on {blocks:?}")
}

async fn wait_for_update(slack: &FakeSlack, case: u64, needle: &str) -> Posted {
    wait_until(&format!("card {case} to show {needle:?}"), || {
        slack
            .card(case)
            .is_some_and(|card| card.updated.is_some() && card.all_text().contains(needle))
    })
    .await;
    slack.card(case).unwrap()
}

#[tokio::test]
async fn a_complaint_becomes_a_block_kit_card_with_metadata() {
    let (slack, app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;

    assert_eq!(card.channel, MAIN);
    let body = &card.body;
    assert_eq!(body["metadata"]["event_type"], "mentiondesk_message");
    assert_eq!(body["metadata"]["event_payload"]["key"], "case-1");
    assert_eq!(body["metadata"]["event_payload"]["case_id"], "1");
    assert!(body["text"].as_str().unwrap().contains("@jo"), "{body}");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Complaint on Bluesky");
    let text = card.all_text();
    for expected in [
        "> @acme.bsky.social my order never arrived",
        "<https://bsky.app/profile/jo/post/p1|View post>",
        "*complaint* · score",
        "New · unclaimed",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in {text}");
    }
    assert_eq!(button(&card, "claim"), "claim:1:1");
    assert!(button(&card, "reply").starts_with("reply:1:"));
    assert!(button(&card, "resolve").starts_with("resolve:1:"));
    assert!(button(&card, "dismiss").starts_with("dismiss:1:"));
    // The console has its card too.
    app.wait_for("mentions", |m| m.len() == 1).await;
}

#[tokio::test]
async fn claim_is_acked_updates_the_card_and_the_second_claimer_hears_privately() {
    let (slack, app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;
    let claim = button(&card, "claim");

    let envelope = slack.push_interactive(slack.block_action(ANA, &card, &claim));
    let ack = slack.ack(&envelope).await;
    assert!(ack.get("payload").is_none(), "a bare ack: {ack}");
    let updated = wait_for_update(&slack, 1, "owner Ana").await;
    assert!(!slack.requests_to_update().is_empty());
    assert!(button(&updated, "unclaim").starts_with("unclaim:1:"));
    // Claimed by Ana, in the thread, with her display name from users.info.
    wait_until("the claim note", || {
        slack
            .thread(&card.ts)
            .iter()
            .any(|n| n.body["text"] == "Claimed by Ana")
    })
    .await;

    // Bo clicks the same (stale) button.
    let envelope = slack.push_interactive(slack.block_action(BO, &card, &claim));
    slack.ack(&envelope).await;
    wait_until("Bo's private notice", || {
        slack
            .ephemerals()
            .iter()
            .any(|e| e["user"] == BO && e["text"] == "Already claimed by Ana.")
    })
    .await;
    let ephemeral = slack
        .ephemerals()
        .into_iter()
        .find(|e| e["user"] == BO)
        .unwrap();
    assert_eq!(ephemeral["channel"], MAIN);

    // Both chats at once: the console card shows Ana too.
    let console = app.wait_for_card(1, "claimed", 1).await;
    assert_eq!(console["card"]["owner"], "Ana");
}

#[tokio::test]
async fn reply_opens_a_modal_and_the_submit_replies_on_the_network() {
    let (slack, app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;

    let envelope = slack.push_interactive(slack.block_action(ANA, &card, &button(&card, "reply")));
    slack.ack(&envelope).await;
    let view = slack.views().pop().expect("views.open was called");
    assert_eq!(view["callback_id"], "mentiondesk_reply");
    let view_text = serde_json::to_string(&view).unwrap();
    assert!(view_text.contains("*300* characters"), "{view_text}");
    assert!(
        view_text.contains("\"initial_value\":\"@jo \""),
        "{view_text}"
    );

    let text = "@jo so sorry! We've reshipped it today.";
    let submission = slack.view_submission(
        ANA,
        &view,
        &[(
            "reply_text",
            json!({"type": "plain_text_input", "value": text}),
        )],
    );
    let envelope = slack.push_interactive(submission);
    let ack = slack.ack(&envelope).await;
    assert!(ack.get("payload").is_none(), "the modal closes: {ack}");

    wait_until("the reply on the network", || {
        !app.sent_replies().is_empty()
    })
    .await;
    let sent = app.sent_replies();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["text"], text);
    wait_until("the reply note in the thread", || {
        slack.thread(&card.ts).iter().any(|n| {
            n.body["text"]
                .as_str()
                .unwrap_or_default()
                .contains("replied publicly")
        })
    })
    .await;
    let note = slack.thread(&card.ts).pop().unwrap();
    assert_eq!(note.body["thread_ts"], card.ts);
    assert_eq!(note.body["metadata"]["event_payload"]["case_id"], "1");
    wait_for_update(&slack, 1, "1 public reply").await;
    // The private notice says the reply is queued.
    wait_until("the queued notice", || {
        slack.ephemerals().iter().any(|e| {
            e["user"] == ANA
                && e["text"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("Reply queued")
        })
    })
    .await;
}

#[tokio::test]
async fn an_over_limit_reply_keeps_the_modal_open_and_posts_nothing() {
    let (slack, app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;
    let envelope = slack.push_interactive(slack.block_action(ANA, &card, &button(&card, "reply")));
    slack.ack(&envelope).await;
    let view = slack.views().pop().unwrap();

    let long = format!("@jo {}", "sorry ".repeat(80));
    let submission = slack.view_submission(
        ANA,
        &view,
        &[(
            "reply_text",
            json!({"type": "plain_text_input", "value": long}),
        )],
    );
    let ack = slack.ack(&slack.push_interactive(submission)).await;
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    let error = ack["payload"]["errors"]["reply_text"].as_str().unwrap();
    assert!(error.contains("of 300 characters"), "{error}");

    // Personal data: held until "Post anyway" is ticked.
    let with_pii = "@jo write to me at ana@example.com";
    let submission = slack.view_submission(
        ANA,
        &view,
        &[(
            "reply_text",
            json!({"type": "plain_text_input", "value": with_pii}),
        )],
    );
    let ack = slack.ack(&slack.push_interactive(submission)).await;
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(ack["payload"]["errors"]["reply_text"]
        .as_str()
        .unwrap()
        .contains("Post anyway"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sent_replies().is_empty(), "nothing posted");

    let confirmed = slack.view_submission(
        ANA,
        &view,
        &[
            ("reply_text", json!({"type": "plain_text_input", "value": with_pii})),
            (
                "confirm_pii",
                json!({"type": "checkboxes", "selected_options": [{"text": {"type": "plain_text", "text": "Post anyway"}, "value": "confirm"}]}),
            ),
        ],
    );
    let ack = slack.ack(&slack.push_interactive(confirmed)).await;
    assert!(ack.get("payload").is_none(), "{ack}");
    wait_until("the confirmed reply", || app.sent_replies().len() == 1).await;
}

#[tokio::test]
async fn escalate_posts_a_linked_card_mentioning_the_group_and_a_thread_note() {
    let (slack, app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;
    let envelope =
        slack.push_interactive(slack.block_action(ANA, &card, &button(&card, "escalate")));
    slack.ack(&envelope).await;
    let view = slack.views().pop().unwrap();
    assert_eq!(view["callback_id"], "mentiondesk_escalate");
    let options = serde_json::to_string(&view["blocks"][0]["element"]["options"]).unwrap();
    assert!(options.contains("\"value\":\"tier2\""), "{options}");
    assert!(options.contains("\"value\":\"billing\""), "{options}");

    let submission = slack.view_submission(
        ANA,
        &view,
        &[
            (
                "target",
                json!({"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "Tier 2"}, "value": "tier2"}}),
            ),
            ("note", json!({"type": "plain_text_input", "value": "refund <now>"})),
        ],
    );
    let ack = slack.ack(&slack.push_interactive(submission)).await;
    assert!(ack.get("payload").is_none(), "{ack}");

    wait_until("the linked card", || !slack.cards(TIER2).is_empty()).await;
    let linked = slack.cards(TIER2).pop().unwrap();
    let text = linked.all_text();
    assert!(
        text.contains("<!subteam^S0TIER2000> Escalated to *Tier 2* by Ana: refund &lt;now&gt;"),
        "{text}"
    );
    assert_eq!(linked.key(), Some("case-1-escalation-tier2"));
    wait_until("the escalation note", || {
        slack.thread(&card.ts).iter().any(|n| {
            n.body["text"]
                .as_str()
                .unwrap_or_default()
                .contains("Tier 2")
        })
    })
    .await;
    // The console got its linked card in its own tier2 channel.
    app.wait_for("tier2", |m| m.len() == 1).await;
}

#[tokio::test]
async fn a_429_storm_delays_cards_but_loses_none() {
    let (slack, app) = slack_app().await;
    for _ in 0..4 {
        slack.server.inject(
            "/api/chat.postMessage",
            Fault::RateLimited {
                retry_after_secs: 1,
            },
        );
    }
    let mentions: Vec<Value> = (1..=6)
        .map(|n| complaint(&format!("p{n}"), &format!("user{n}")))
        .collect();
    app.post(&mentions);
    wait_until("six cards", || slack.cards(MAIN).len() == 6).await;
    let mut keys: Vec<String> = slack
        .cards(MAIN)
        .iter()
        .map(|c| c.key().unwrap().to_string())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 6, "one card per case, none twice");
    let refused = slack
        .server
        .requests_to("POST", "/api/chat.postMessage")
        .len()
        - slack.messages().len();
    assert!(refused >= 4, "the injected 429s were retried");
    assert_eq!(
        slack.rate_limited(),
        0,
        "the adapter paces itself below the channel limit"
    );
}

#[tokio::test]
async fn after_a_socket_mode_disconnect_it_reconnects_and_keeps_handling_clicks() {
    let (slack, app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;

    slack.disconnect();
    slack.wait_connected(2).await;
    let opens = slack
        .server
        .requests_to("POST", "/api/apps.connections.open")
        .len();
    assert!(opens >= 2, "a new wss URL was asked for");

    let envelope = slack.push_interactive(slack.block_action(ANA, &card, &button(&card, "claim")));
    slack.ack(&envelope).await;
    wait_for_update(&slack, 1, "owner Ana").await;
    app.wait_for_card(1, "claimed", 1).await;
}

#[tokio::test]
async fn a_channel_slack_does_not_know_is_refused_and_the_console_still_works() {
    let slack = FakeSlack::start(&[MAIN], &[]).await;
    let app = TestApp::spawn_with(&slack.config("C0UNKNOWN01")).await;
    app.post(&[complaint("p1", "jo")]);
    app.wait_for("mentions", |m| m.len() == 1).await;
    wait_until("a refused attempt", || {
        !slack
            .server
            .requests_to("POST", "/api/chat.postMessage")
            .is_empty()
    })
    .await;
    assert!(slack.messages().is_empty());
}

impl FakeSlack {
    fn requests_to_update(&self) -> Vec<crate::fakes::Recorded> {
        self.server.requests_to("POST", "/api/chat.update")
    }
}

/// The crash window of a card post: Slack took the message, the process died before the
/// store recorded it. After the restart the adapter finds its card by the key in the message
/// metadata (`conversations.history`) instead of posting a second one.
#[tokio::test]
async fn a_card_posted_just_before_a_crash_is_found_not_posted_again() {
    card_posted_just_before_a_crash(true).await;
}

/// The same when the crash also lost the "posting" marker (written without an fsync): the
/// outbox entry is older than the restart, so the card is looked for all the same.
#[tokio::test]
async fn a_card_posted_just_before_a_crash_that_lost_its_marker_is_found_not_posted_again() {
    card_posted_just_before_a_crash(false).await;
}

async fn card_posted_just_before_a_crash(marker_on_disk: bool) {
    let (slack, mut app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let posted = card(&slack, 1).await;
    app.stop().await;

    rewind_to_a_lost_card_record(&app, "slack", 1, marker_on_disk).await;

    let app = app.restart().await;
    slack.wait_connected(2).await;
    wait_until("the history lookup", || {
        !slack
            .server
            .requests_to("GET", "/api/conversations.history")
            .is_empty()
    })
    .await;
    let lookup = slack
        .server
        .requests_to("GET", "/api/conversations.history")
        .remove(0);
    assert!(
        lookup.query.contains("include_all_metadata=true"),
        "{}",
        lookup.query
    );

    // A claim now edits the original message: its ts was recovered.
    let envelope =
        slack.push_interactive(slack.block_action(ANA, &posted, &button(&posted, "claim")));
    slack.ack(&envelope).await;
    wait_for_update(&slack, 1, "owner Ana").await;
    app.wait_for_card(1, "claimed", 1).await;
    assert_eq!(slack.cards(MAIN).len(), 1, "still one card");
}

#[tokio::test]
async fn check_calls_auth_test_and_names_a_bad_token() {
    let slack = FakeSlack::start(&[MAIN], &[]).await;
    let table = slack.config(MAIN);
    let check =
        |token: &'static str| check_chat_token(&table, crate::fakes::slack::BOT_TOKEN, token);
    let (code, stdout, _) = check(crate::fakes::slack::BOT_TOKEN).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("slack.bot_token: ok (workspace Acme"),
        "{stdout}"
    );

    let (code, _, stderr) = check("xoxb-revoked").await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("slack.bot_token: Slack refused the token (slack error invalid_auth)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("xoxb-revoked"),
        "the token is never printed"
    );
}

// --- HTTP mode: the same clicks and forms over signed requests to `[http].listen`. ---

async fn slack_http_app() -> (FakeSlack, TestApp) {
    let slack = FakeSlack::start(&[MAIN, TIER2], &[(ANA, "Ana"), (BO, "Bo")]).await;
    let app = TestApp::spawn_with(&slack.http_config(MAIN)).await;
    (slack, app)
}

#[tokio::test]
async fn http_mode_answers_the_url_check_and_a_signed_claim_claims_the_case() {
    let (slack, app) = slack_http_app().await;
    assert_eq!(slack.connections(), 0, "no Socket Mode in HTTP mode");
    let challenge = json!({"token": "verification-token", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    let (status, body) = slack
        .deliver_signed(
            &app.http,
            "/slack/events",
            "application/json",
            &challenge.to_string(),
            0,
            crate::fakes::slack::SIGNING_SECRET,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["challenge"], challenge["challenge"]);

    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;
    let click = slack.block_action(ANA, &card, &button(&card, "claim"));
    let (status, body) = slack.deliver_interaction(&app.http, &click).await;
    assert_eq!((status, body.as_str()), (200, ""), "a bare ack");
    let updated = wait_for_update(&slack, 1, "owner Ana").await;
    assert!(button(&updated, "unclaim").starts_with("unclaim:1:"));
    app.wait_for_card(1, "claimed", 1).await;
    // The health routes are still there.
    assert!(app.health().await["components"].is_object());
}

#[tokio::test]
async fn http_mode_refuses_a_bad_signature_and_a_stale_timestamp() {
    let (slack, app) = slack_http_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;
    let body = crate::fakes::slack::interaction_body(&slack.block_action(
        ANA,
        &card,
        &button(&card, "claim"),
    ));
    let form = "application/x-www-form-urlencoded";
    let (status, _) = slack
        .deliver_signed(
            &app.http,
            "/slack/interactivity",
            form,
            &body,
            0,
            "not-the-secret",
        )
        .await;
    assert_eq!(status, 401, "wrong secret");
    let (status, _) = slack
        .deliver_signed(
            &app.http,
            "/slack/interactivity",
            form,
            &body,
            6 * 60,
            crate::fakes::slack::SIGNING_SECRET,
        )
        .await;
    assert_eq!(status, 401, "six minutes old");
    let (status, _) = slack
        .deliver_signed(
            &app.http,
            "/slack/commands",
            form,
            "text=queue",
            0,
            "not-the-secret",
        )
        .await;
    assert_eq!(status, 401, "commands are verified too");
    let unsigned = reqwest::Client::new()
        .post(format!("{}/slack/interactivity", app.http))
        .header("content-type", form)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401, "no signature at all");

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(slack.requests_to_update().is_empty(), "nothing changed");
    let case = app.wait_for_card(1, "new", 0).await;
    assert!(case["card"]["owner"].is_null(), "{case}");
}

#[tokio::test]
async fn http_mode_returns_the_modal_error_for_an_over_limit_reply() {
    let (slack, app) = slack_http_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&slack, 1).await;
    let click = slack.block_action(ANA, &card, &button(&card, "reply"));
    let (status, _) = slack.deliver_interaction(&app.http, &click).await;
    assert_eq!(status, 200);
    let view = slack.views().pop().expect("views.open was called");

    let long = format!("@jo {}", "sorry ".repeat(80));
    let submission = slack.view_submission(
        ANA,
        &view,
        &[(
            "reply_text",
            json!({"type": "plain_text_input", "value": long}),
        )],
    );
    let (status, body) = slack.deliver_interaction(&app.http, &submission).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_action"], "errors", "{answer}");
    assert!(
        answer["errors"]["reply_text"]
            .as_str()
            .unwrap()
            .contains("of 300 characters"),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sent_replies().is_empty(), "nothing posted");
}

// --- Slash commands. ---

/// The text of a slash command's ack (Socket Mode), checking it is private.
async fn command(slack: &FakeSlack, user: &str, text: &str) -> String {
    let ack = slack.ack(&slack.push_command(user, MAIN, text)).await;
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
    ack["payload"]["text"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn slash_queue_lists_unclaimed_cases_oldest_first_with_links_to_their_cards() {
    let (slack, app) = slack_app().await;
    for (case, handle) in [(1, "first"), (2, "second"), (3, "third")] {
        app.post(&[complaint(&format!("p{case}"), handle)]);
        card(&slack, case).await;
    }
    let second = card(&slack, 2).await;
    slack.push_interactive(slack.block_action(ANA, &second, &button(&second, "claim")));
    wait_for_update(&slack, 2, "owner Ana").await;

    let text = command(&slack, BO, "queue").await;
    assert!(text.contains("Queue: 2 open unclaimed cases"), "{text}");
    let first = text.find("@first").expect("case 1 listed");
    let third = text.find("@third").expect("case 3 listed");
    assert!(first < third, "oldest first: {text}");
    assert!(
        !text.contains("@second"),
        "claimed cases are not queued: {text}"
    );
    let card1 = card(&slack, 1).await;
    let link = format!(
        "<https://acme.slack.com/archives/{MAIN}/p{}|#1>",
        card1.ts.replace('.', "")
    );
    assert!(text.contains(&link), "{link} in {text}");
    assert!(
        slack
            .messages()
            .iter()
            .all(|m| !m.all_text().contains("Queue:")),
        "nothing posted in the channel"
    );
}

#[tokio::test]
async fn slash_mine_lists_only_the_callers_cases_and_stats_count_today() {
    let (slack, app) = slack_app().await;
    for (case, handle) in [(1, "anas"), (2, "bos")] {
        app.post(&[complaint(&format!("p{case}"), handle)]);
        card(&slack, case).await;
    }
    for (case, user, name) in [(1, ANA, "Ana"), (2, BO, "Bo")] {
        let card = card(&slack, case).await;
        slack.push_interactive(slack.block_action(user, &card, &button(&card, "claim")));
        wait_for_update(&slack, case, &format!("owner {name}")).await;
    }

    let text = command(&slack, ANA, "mine").await;
    assert!(text.contains("Your open cases: 1"), "{text}");
    assert!(text.contains("@anas"), "{text}");
    assert!(!text.contains("@bos"), "{text}");

    let text = command(&slack, ANA, "stats").await;
    assert!(text.contains("2 cases opened — claimed 2"), "{text}");
    assert!(text.contains("Open now: 2 (0 unclaimed)"), "{text}");
    let text = command(&slack, ANA, "dance").await;
    assert!(text.contains("Unknown command “dance”"), "{text}");
}

#[tokio::test]
async fn slash_commands_answer_over_http_mode_too() {
    let (slack, app) = slack_http_app().await;
    app.post(&[complaint("p1", "jo")]);
    card(&slack, 1).await;
    let fields = slack.command_fields(ANA, MAIN, "queue");
    let (status, body) = slack
        .deliver_signed(
            &app.http,
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &crate::fakes::slack::form_body(&fields),
            0,
            crate::fakes::slack::SIGNING_SECRET,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(answer["text"].as_str().unwrap().contains("@jo"), "{answer}");
    // Slack's periodic certificate check of the command URL.
    let (status, _) = slack
        .deliver_signed(
            &app.http,
            "/slack/commands",
            "application/x-www-form-urlencoded",
            "ssl_check=1&token=verification-token",
            0,
            crate::fakes::slack::SIGNING_SECRET,
        )
        .await;
    assert_eq!(status, 200);
}

// --- Thread notes after a crash, and the reply limit. ---

fn has_button(card: &Posted, verb: &str) -> bool {
    card.current()["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block["type"] == "actions")
        .flat_map(|block| block["elements"].as_array().cloned().unwrap_or_default())
        .any(|element| element["action_id"] == verb)
}

fn notes_saying(slack: &FakeSlack, parent: &str, text: &str) -> Vec<Posted> {
    slack
        .thread(parent)
        .into_iter()
        .filter(|note| note.body["text"] == text)
        .collect()
}

/// A note whose posting was cut short by a crash is looked up by the key in its metadata
/// (`conversations.replies` with `include_all_metadata`): one Slack did take is found, not
/// posted twice; one it did not take is posted, even though an earlier note in the thread
/// says the very same thing ("Claimed by Ana" twice), which a lookup by text would mistake
/// for it.
#[tokio::test]
async fn pending_thread_notes_are_found_by_metadata_not_by_text() {
    let (slack, mut app) = slack_app().await;
    app.post(&[complaint("p1", "jo")]);
    let posted = card(&slack, 1).await;
    for (verb, next) in [
        ("claim", "unclaim"),
        ("unclaim", "claim"),
        ("claim", "unclaim"),
    ] {
        let current = slack.card(1).unwrap();
        let notes = slack.thread(&posted.ts).len();
        slack.push_interactive(slack.block_action(ANA, &current, &button(&current, verb)));
        wait_until(&format!("the card and note after {verb}"), || {
            slack.card(1).is_some_and(|card| has_button(&card, next))
                && slack.thread(&posted.ts).len() > notes
        })
        .await;
    }
    let claimed = notes_saying(&slack, &posted.ts, "Claimed by Ana");
    assert_eq!(claimed.len(), 2);
    let lost = claimed[1].clone();
    let unclaimed = slack
        .thread(&posted.ts)
        .into_iter()
        .find(|note| note.ts > claimed[0].ts && note.ts < lost.ts)
        .expect("the unclaim note");
    let key_of = |note: &Posted| note.key().expect("notes carry their key").to_string();
    let seq_of = |key: &str| -> u32 { key.rsplit('-').next().unwrap().parse().unwrap() };
    app.stop().await;

    // Both notes were "posting" when the process died; Slack took only the unclaim note.
    slack.forget(&lost.ts);
    {
        let store = mentiondesk::store::Store::open(&app.dir.path().join("store/sled")).unwrap();
        for note in [&unclaimed, &lost] {
            let key = key_of(note);
            store
                .chat_remove("slack", &format!("k/{key}"))
                .await
                .unwrap();
            store
                .chat_put("slack", &format!("p/{key}"), b"1")
                .await
                .unwrap();
            store
                .transact(|tx| {
                    tx.enqueue(
                        "chat/slack",
                        &mentiondesk::store::OutboxEntry {
                            case: mentiondesk::domain::CaseId(1),
                            task: mentiondesk::store::OutboxTask::ThreadNote { seq: seq_of(&key) },
                            attempts: 0,
                            last_error: None,
                            created_at: chrono::Utc::now(),
                        },
                    )
                })
                .unwrap();
        }
        store.flush().await.unwrap();
    }

    let _app = app.restart().await;
    wait_until("the lost note posted again", || {
        notes_saying(&slack, &posted.ts, "Claimed by Ana").len() == 2
    })
    .await;
    let lookups = slack
        .server
        .requests_to("GET", "/api/conversations.replies");
    assert!(lookups.len() >= 2, "one lookup per pending note");
    assert!(
        lookups
            .iter()
            .all(|lookup| lookup.query.contains("include_all_metadata=true")),
        "{:?}",
        lookups.iter().map(|l| &l.query).collect::<Vec<_>>()
    );
    let reposted = notes_saying(&slack, &posted.ts, "Claimed by Ana")
        .pop()
        .unwrap();
    assert_eq!(reposted.key(), Some(key_of(&lost).as_str()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let unclaim_notes: Vec<Posted> = slack
        .thread(&posted.ts)
        .into_iter()
        .filter(|note| note.key() == Some(key_of(&unclaimed).as_str()))
        .collect();
    assert_eq!(
        unclaim_notes.len(),
        1,
        "the note Slack took is not posted twice"
    );
}

/// The Reply modal shows the limit the case's source counts with: a Mastodon instance that
/// allows 1000 characters, not Mastodon's default of 500.
#[tokio::test]
async fn the_reply_modal_shows_the_limit_of_the_cases_source() {
    let mastodon =
        crate::fakes::mastodon::MastodonFake::start_with(crate::fakes::mastodon::Options {
            max_characters: 1000,
            ..crate::fakes::mastodon::Options::default()
        })
        .await;
    let slack = FakeSlack::start(&[MAIN], &[(ANA, "Ana")]).await;
    let app = TestApp::spawn_with(&format!(
        "{}\n{}",
        mastodon.source_toml("masto"),
        slack.config(MAIN)
    ))
    .await;
    slack.wait_connected(1).await;
    mastodon.mention("jo", "my order never arrived and support ignores me");
    let card = card(&slack, 1).await;
    slack.push_interactive(slack.block_action(ANA, &card, &button(&card, "reply")));
    wait_until("views.open", || !slack.views().is_empty()).await;
    let view = serde_json::to_string(&slack.views().pop().unwrap()).unwrap();
    assert!(view.contains("*1000* characters"), "{view}");
    assert!(!view.contains("*500* characters"), "{view}");
    drop(app);
}
