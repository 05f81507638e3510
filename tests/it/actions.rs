//! Clicks and forms on the console: claim, reply, escalate, resolve, and their refusals.

use serde_json::json;

use crate::helpers::{bsky, card_of, thread_texts, TestApp};

async fn app_with_one_case() -> TestApp {
    let app = TestApp::spawn().await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme.bsky.social my order never arrived and support ignores me",
        None,
    )]);
    app.wait_for("mentions", |m| m.len() == 1).await;
    app
}

#[tokio::test]
async fn the_first_claim_wins_and_the_second_claimer_is_told_who() {
    let app = app_with_one_case().await;
    let claim = app.button(1, "claim").await;

    let (status, body) = app.act("Ana", &claim, json!({})).await;
    assert_eq!((status, &body["outcome"]), (200, &json!("done")), "{body}");
    // Bo clicks the same (now stale) button.
    let (status, body) = app.act("Bo", &claim, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["message"], "Already claimed by Ana.");

    let card = app.wait_for_card(1, "claimed", 1).await;
    assert_eq!(card["card"]["owner"], "Ana");
    assert_eq!(thread_texts(&card), ["Claimed by Ana"]);
    let kinds: Vec<&str> = card["card"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["reply", "unclaim", "escalate", "resolve", "dismiss"]
    );

    // Only the owner may unclaim.
    let unclaim = app.button(1, "unclaim").await;
    let (status, body) = app.act("Bo", &unclaim, json!({})).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("Only Ana can unclaim this case."))
    );
}

#[tokio::test]
async fn a_public_reply_is_posted_once_in_reply_to_the_customer() {
    let app = app_with_one_case().await;
    let reply = app.button(1, "reply").await;
    let text = "@jo so sorry! We've reshipped it today, tracking in your DMs.";
    let (status, body) = app.act("Ana", &reply, json!({ "text": text })).await;
    assert_eq!(status, 200, "{body}");
    // A double submit of the same form is refused: the case changed since it was opened.
    let (status, _) = app.act("Ana", &reply, json!({ "text": text })).await;
    assert_eq!(status, 409);

    let card = app.wait_for_card(1, "replied", 2).await;
    assert_eq!(
        thread_texts(&card),
        [
            "Claimed by Ana",
            format!("Ana replied publicly: “{text}”").as_str()
        ]
    );
    let sent = app.sent_replies();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["text"], text);
    assert_eq!(
        sent[0]["in_reply_to"],
        "at://did:plc:jo/app.bsky.feed.post/p1"
    );
    assert_eq!(sent[0]["network"], "bluesky");
}

#[tokio::test]
async fn reply_forms_check_length_and_personal_data() {
    let app = app_with_one_case().await;
    let reply = app.button(1, "reply").await;

    let long = format!("@jo {}", "sorry ".repeat(60));
    let (status, body) = app.act("Ana", &reply, json!({ "text": long })).await;
    assert_eq!((status, &body["field"]), (422, &json!("text")), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("of 300 characters"),
        "{body}"
    );

    let (status, body) = app.act("Ana", &reply, json!({ "text": "@jo " })).await;
    assert_eq!(status, 422, "{body}");

    let with_phone = "@jo call us on +1 415 555 0134 and we'll sort it";
    let (status, body) = app.act("Ana", &reply, json!({ "text": with_phone })).await;
    assert_eq!(
        (status, &body["outcome"]),
        (200, &json!("confirm_pii")),
        "{body}"
    );
    assert!(
        app.sent_replies().is_empty(),
        "nothing posted before confirmation"
    );

    let (status, body) = app
        .act(
            "Ana",
            &reply,
            json!({ "text": with_phone, "confirm_pii": true }),
        )
        .await;
    assert_eq!((status, &body["outcome"]), (200, &json!("done")), "{body}");
    app.wait_for_card(1, "replied", 2).await;
    assert_eq!(app.sent_replies().len(), 1);
}

#[tokio::test]
async fn a_failed_reply_is_reported_and_can_be_retried() {
    let app = app_with_one_case().await;
    // The sent file can't be written: it is a directory.
    std::fs::create_dir(&app.sent).unwrap();
    let reply = app.button(1, "reply").await;
    let text = "@jo we're on it";
    let (status, _) = app.act("Ana", &reply, json!({ "text": text })).await;
    assert_eq!(status, 200);

    let card = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|c| thread_texts(c).iter().any(|t| t.contains("failed")))
        })
        .await;
    let card = card_of(&card, 1).unwrap();
    let notes = thread_texts(card);
    assert!(
        notes[1].starts_with("Public reply by Ana failed: cannot write the replay sent file"),
        "{notes:?}"
    );
    assert_eq!(card["card"]["state"], "claimed");
    assert!(card["card"]["state_line"]
        .as_str()
        .unwrap()
        .contains("last reply failed"));

    // The draft is kept for the retry.
    let form: serde_json::Value = reqwest::get(format!("{}/api/cases/1/reply-form", app.console))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["draft"], text, "{form}");

    std::fs::remove_dir(&app.sent).unwrap();
    let reply = app.button(1, "reply").await;
    let (status, body) = app.act("Ana", &reply, json!({ "text": text })).await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 3).await;
    assert_eq!(app.sent_replies().len(), 1);
}

#[tokio::test]
async fn escalation_posts_a_linked_card_and_resolve_closes() {
    let app = app_with_one_case().await;
    let escalate = app.button(1, "escalate").await;
    let (status, body) = app
        .act(
            "Ana",
            &escalate,
            json!({ "target": "nowhere", "note": "x" }),
        )
        .await;
    assert_eq!((status, &body["field"]), (422, &json!("target")), "{body}");

    let (status, body) = app
        .act(
            "Ana",
            &escalate,
            json!({ "target": "billing", "note": "double charge on the annual plan" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let billing = app.wait_for("billing", |m| !m.is_empty()).await;
    assert_eq!(billing.len(), 1);
    assert_eq!(billing[0]["card"]["kind"]["type"], "escalation");
    assert_eq!(
        billing[0]["card"]["kind"]["note"],
        "double charge on the annual plan"
    );
    let card = app.wait_for_card(1, "new", 1).await;
    assert_eq!(
        thread_texts(&card),
        ["Escalated to Billing team by Ana: double charge on the annual plan"]
    );

    let resolve = app.button(1, "resolve").await;
    let (status, _) = app.act("Bo", &resolve, json!({})).await;
    assert_eq!(status, 200);
    let card = app.wait_for_card(1, "resolved", 2).await;
    assert_eq!(thread_texts(&card)[1], "Resolved by Bo");
    let kinds: Vec<&str> = card["card"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["reopen"]);
}
