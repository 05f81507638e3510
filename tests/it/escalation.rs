//! Escalation to a target with a signed webhook: the hand-off is delivered once, retried
//! through failures, and its outcome (with the ticket link) is threaded under the card.

use serde_json::json;

use crate::fakes::{tickets, Fault};
use crate::helpers::{bsky, card_of, thread_texts, TestApp};

async fn app_with_ticket_desk() -> (TestApp, crate::fakes::FakeServer) {
    let desk = tickets::start().await;
    let app = TestApp::spawn_with(&format!(
        r#"
[[escalations]]
id = "tickets"
label = "Ticket desk"
webhook = {{ url = "{}/hook", secret = "{}" }}
"#,
        desk.base_url,
        tickets::SECRET
    ))
    .await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme.bsky.social charged twice, mail me at jo@example.com, still no refund",
        None,
    )]);
    app.wait_for("mentions", |m| m.len() == 1).await;
    (app, desk)
}

#[tokio::test]
async fn the_webhook_gets_one_signed_hand_off_and_the_ticket_link_is_threaded() {
    let (app, desk) = app_with_ticket_desk().await;
    desk.inject("/hook", Fault::Status(502, "bad gateway"));
    let escalate = app.button(1, "escalate").await;
    let (status, body) = app
        .act(
            "Ana",
            &escalate,
            json!({ "target": "tickets", "note": "refund over 100 EUR" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|c| thread_texts(c).len() >= 2)
        })
        .await;
    let card = card_of(&messages, 1).unwrap();
    assert_eq!(
        thread_texts(card),
        [
            "Escalated to Ticket desk by Ana: refund over 100 EUR",
            "Ticket desk received the hand-off: ticket opened"
        ]
    );
    assert_eq!(card["thread"][1]["link"], "https://tickets.example/T-1");

    let calls = desk.requests_to("POST", "/hook");
    assert_eq!(calls.len(), 2, "one failure, one delivery");
    assert_eq!(
        calls[0].header("idempotency-key"),
        Some("case-1-escalation-tickets")
    );
    assert_eq!(
        calls[0].header("idempotency-key"),
        calls[1].header("idempotency-key")
    );
    let sent = calls[1].json();
    assert_eq!(sent["case"], 1);
    assert_eq!(sent["target"], "tickets");
    assert_eq!(sent["escalated_by"], "Ana");
    assert_eq!(sent["note"], "refund over 100 EUR");
    assert_eq!(
        sent["post"]["text"],
        "@acme.bsky.social charged twice, mail me at [e-mail address hidden], still no refund",
        "personal data never leaves masked"
    );
    // The console shows the target as a channel with the linked card.
    assert_eq!(app.wait_for("tickets", |m| !m.is_empty()).await.len(), 1);
}

#[tokio::test]
async fn a_refused_hand_off_is_reported_in_the_thread() {
    let (app, desk) = app_with_ticket_desk().await;
    desk.inject("/hook", Fault::Status(400, r#"{"error":"unknown queue"}"#));
    let escalate = app.button(1, "escalate").await;
    let (status, _) = app
        .act("Ana", &escalate, json!({ "target": "tickets", "note": "" }))
        .await;
    assert_eq!(status, 200);
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|c| thread_texts(c).len() >= 2)
        })
        .await;
    let notes = thread_texts(card_of(&messages, 1).unwrap());
    assert!(
        notes[1].starts_with("The hand-off to Ticket desk failed: HTTP 400 Bad Request"),
        "{notes:?}"
    );
    assert_eq!(
        desk.requests_to("POST", "/hook").len(),
        1,
        "a refusal is not retried"
    );
}
