//! Reply tools end to end: saved replies picked in Slack, Discord and the console (filled in
//! by the domain, posted with the expanded text), and the same-text warning that holds the
//! (N+1)th identical reply of the day until the agent confirms.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fakes::discord::FakeDiscord;
use crate::fakes::slack::{wait_until, FakeSlack};
use crate::helpers::{bsky, TestApp};

const SLACK_MAIN: &str = "C0MENTIONS1";
const ANA: &str = "U0ANA00001";
const DISCORD_MAIN: &str = "500000000000000001";
const DISCORD_ANA: (&str, &str) = ("700000000000000001", "Ana");

const SAVED: &str = r#"
[[replies.saved]]
name = "Apology"
text = "{handle} so sorry about this! I'm on it now. {agent}"

[[replies.saved]]
name = "Refund"
text = "{handle} your refund is on its way."
"#;

fn complaint(id: &str, handle: &str) -> Value {
    bsky(
        id,
        handle,
        "@acme.bsky.social my order never arrived and support ignores me",
        None,
    )
}

/// The console's reply form of case 1 (`query` like `?agent=Ana`).
async fn reply_form(app: &TestApp, query: &str) -> Value {
    reqwest::get(format!("{}/api/cases/1/reply-form{query}", app.console))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// An app in approval mode whose case 1 has Ana's draft "@jo sorry" waiting.
async fn app_with_a_draft_by_ana() -> TestApp {
    let app = TestApp::spawn_with(APPROVAL).await;
    app.post(&[complaint("p1", "jo")]);
    app.wait_for_card(1, "new", 0).await;
    let reply = app.button(1, "reply").await;
    let (_, body) = app.act("Ana", &reply, json!({"text": "@jo sorry"})).await;
    assert_eq!(body["outcome"], "done", "{body}");
    app
}

/// The value of the button `verb` on a Slack card.
fn slack_button(card: &crate::fakes::slack::Posted, verb: &str) -> String {
    let blocks = card.current()["blocks"].as_array().cloned().unwrap();
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|element| element["action_id"] == verb)
        .and_then(|element| element["value"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {verb} on {blocks:?}"))
}

#[tokio::test]
async fn slack_a_picked_saved_reply_fills_the_modal_and_is_posted_expanded() {
    let slack = FakeSlack::start(&[SLACK_MAIN], &[(ANA, "Ana")]).await;
    let app = TestApp::spawn_with(&format!("{}\n{SAVED}", slack.config(SLACK_MAIN))).await;
    slack.wait_connected(1).await;
    app.post(&[complaint("p1", "jo.bsky.social")]);
    wait_until("the card", || slack.card(1).is_some()).await;
    let card = slack.card(1).unwrap();

    let envelope =
        slack.push_interactive(slack.block_action(ANA, &card, &slack_button(&card, "reply")));
    slack.ack(&envelope).await;
    let view = slack.views().pop().expect("views.open was called");
    let picker = &view["blocks"][1];
    assert_eq!(picker["block_id"], "saved_reply");
    assert_eq!(picker["dispatch_action"], true);
    assert_eq!(picker["element"]["options"][0]["value"], "Apology");
    assert_eq!(view["blocks"][2]["block_id"], "reply_text");

    // Ana types something, then picks the saved reply: Slack would keep the typed text under
    // the same block id, so the update renames the text block.
    let mut typed = view.clone();
    typed["state"] = json!({"values": {"reply_text": {"value": {"type": "plain_text_input", "value": "@jo.bsky.social hm"}}}});
    let pick = slack.view_select(ANA, &typed, "saved_reply", "saved_reply", "Apology");
    slack.ack(&slack.push_interactive(pick)).await;
    wait_until("views.update", || !slack.view_updates().is_empty()).await;
    let update = slack.view_updates().pop().unwrap();
    assert_eq!(update["view_id"], view["id"]);
    assert_eq!(update["hash"], view["hash"], "guarded by the view's hash");
    let expected = "@jo.bsky.social so sorry about this! I'm on it now. Ana";
    let updated = slack.views().pop().unwrap();
    let text_block = &updated["blocks"][2];
    assert_eq!(text_block["block_id"], "reply_text.1");
    assert_eq!(text_block["element"]["initial_value"], expected);
    assert_eq!(
        updated["blocks"][1]["element"]["initial_option"]["value"],
        "Apology"
    );

    let submission = slack.view_submission(
        ANA,
        &updated,
        &[(
            "reply_text.1",
            json!({"type": "plain_text_input", "value": expected}),
        )],
    );
    let ack = slack.ack(&slack.push_interactive(submission)).await;
    assert!(ack.get("payload").is_none(), "the modal closes: {ack}");
    wait_until("the reply on the network", || app.sent_replies().len() == 1).await;
    assert_eq!(app.sent_replies()[0]["text"], expected);

    // An error about the text is keyed by the renamed block, so Slack shows it.
    app.post(&[complaint("p2", "mo")]);
    wait_until("the second card", || slack.card(2).is_some()).await;
    let card = slack.card(2).unwrap();
    slack
        .ack(&slack.push_interactive(slack.block_action(ANA, &card, &slack_button(&card, "reply"))))
        .await;
    let view = slack.views().pop().unwrap();
    let pick = slack.view_select(ANA, &view, "saved_reply", "saved_reply", "Refund");
    slack.ack(&slack.push_interactive(pick)).await;
    wait_until("the second update", || slack.view_updates().len() == 2).await;
    let updated = slack.views().pop().unwrap();
    let submission = slack.view_submission(
        ANA,
        &updated,
        &[(
            "reply_text.1",
            json!({"type": "plain_text_input", "value": "@mo ".to_string() + &"x".repeat(400)}),
        )],
    );
    let ack = slack.ack(&slack.push_interactive(submission)).await;
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(
        ack["payload"]["errors"]["reply_text.1"].is_string(),
        "{ack}"
    );
}

#[tokio::test]
async fn discord_reply_offers_saved_replies_privately_and_the_pick_opens_a_filled_modal() {
    let discord = FakeDiscord::start(&[DISCORD_MAIN]).await;
    let app = TestApp::spawn_with(&format!("{}\n{SAVED}", discord.config(DISCORD_MAIN))).await;
    discord.wait_ready().await;
    app.post(&[complaint("p1", "jo.bsky.social")]);
    crate::fakes::discord::wait_until("the card", || discord.card(1).is_some()).await;
    let card = discord.card(1).unwrap();

    let click = discord.push_interaction(discord.click(DISCORD_ANA, &card, &card.button("reply")));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 4, "a private picker first: {answer}");
    assert_eq!(answer["data"]["flags"], 64);
    let select = &answer["data"]["components"][0]["components"][0];
    assert_eq!(select["type"], 3);
    let custom_id = select["custom_id"].as_str().unwrap().to_string();
    let options: Vec<&str> = select["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|option| option["label"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["Write my own", "Apology", "Refund"]);

    let pick = discord.push_interaction(discord.select(
        DISCORD_ANA,
        &card,
        &custom_id,
        &["saved:Apology"],
    ));
    let answer = discord.callback(&pick).await;
    assert_eq!(answer["type"], 9, "the modal: {answer}");
    let modal = answer["data"].clone();
    let expected = "@jo.bsky.social so sorry about this! I'm on it now. Ana";
    assert_eq!(modal["components"][0]["components"][0]["value"], expected);

    let submit =
        discord.push_interaction(discord.submit(DISCORD_ANA, &card, &modal, &[("text", expected)]));
    discord.callback(&submit).await;
    crate::fakes::discord::wait_until("the reply on the network", || app.sent_replies().len() == 1)
        .await;
    assert_eq!(app.sent_replies()[0]["text"], expected);

    // "Write my own" opens the modal as without saved replies.
    app.post(&[complaint("p2", "mo")]);
    crate::fakes::discord::wait_until("the second card", || discord.card(2).is_some()).await;
    let card = discord.card(2).unwrap();
    let click = discord.push_interaction(discord.click(DISCORD_ANA, &card, &card.button("reply")));
    let answer = discord.callback(&click).await;
    let custom_id = answer["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pick = discord.push_interaction(discord.select(DISCORD_ANA, &card, &custom_id, &["own"]));
    let answer = discord.callback(&pick).await;
    assert_eq!(answer["type"], 9);
    assert_eq!(
        answer["data"]["components"][0]["components"][0]["value"],
        "@mo "
    );
}

#[tokio::test]
async fn the_console_offers_saved_replies_filled_for_the_agent() {
    let app = TestApp::spawn_with(SAVED).await;
    app.post(&[complaint("p1", "jo.bsky.social")]);
    app.wait_for_card(1, "new", 0).await;
    let form = reply_form(&app, "?agent=Ana%20Bee").await;
    assert_eq!(
        form["saved"],
        json!([
            {"name": "Apology", "text": "@jo.bsky.social so sorry about this! I'm on it now. Ana Bee"},
            {"name": "Refund", "text": "@jo.bsky.social your refund is on its way."}
        ])
    );
    // A placeholder left in a submitted text is filled in by the engine.
    let reply = app.button(1, "reply").await;
    let (status, body) = app
        .act(
            "Ana Bee",
            &reply,
            json!({"text": "{handle} your refund is on its way."}),
        )
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    wait_until("the reply", || app.sent_replies().len() == 1).await;
    assert_eq!(
        app.sent_replies()[0]["text"],
        "@jo.bsky.social your refund is on its way."
    );
}

#[tokio::test]
async fn the_same_text_is_held_after_n_sends_today_until_confirmed_even_after_a_restart() {
    let app = TestApp::spawn_with("[replies]\nrepeat_warning_after = 2\n").await;
    let text = |handle: &str| format!("@{handle} Sorry! We are looking into it.");
    let handles = ["a1", "a2", "a3", "a4"];
    for (index, handle) in handles.iter().enumerate() {
        app.post(&[complaint(&format!("p{index}"), handle)]);
    }
    for case in 1..=4 {
        app.wait_for_card(case, "new", 0).await;
    }
    for (case, handle) in [(1, "a1"), (2, "a2")] {
        let reply = app.button(case, "reply").await;
        let (_, body) = app.act("Ana", &reply, json!({"text": text(handle)})).await;
        assert_eq!(body["outcome"], "done", "{body}");
        let sent = case as usize;
        wait_until("the reply", || app.sent_replies().len() == sent).await;
        // Counted from the audit log once the network took it.
        app.wait_for_card(case, "replied", 0).await;
    }
    // The counter lives in the store: a restart does not reset it.
    let app = app.restart().await;
    let reply = app.button(3, "reply").await;
    // Another handle, other case and spacing: still the same text.
    let (_, body) = app
        .act(
            "Bo",
            &reply,
            json!({"text": "@a3  sorry! we are looking into it"}),
        )
        .await;
    assert_eq!(body["outcome"], "confirm_pii", "{body}");
    let warning = body["warning"].as_str().unwrap();
    assert!(
        warning.contains("already sent publicly 2 times today"),
        "{warning}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sent_replies().len(), 2, "held");

    let (_, body) = app
        .act(
            "Bo",
            &reply,
            json!({"text": "@a3  sorry! we are looking into it", "confirm_pii": true}),
        )
        .await;
    assert_eq!(body["outcome"], "done", "{body}");
    wait_until("the confirmed reply", || app.sent_replies().len() == 3).await;

    // A different text is not held.
    let reply = app.button(4, "reply").await;
    let (_, body) = app
        .act(
            "Bo",
            &reply,
            json!({"text": "@a4 could you DM us your order number?"}),
        )
        .await;
    assert_eq!(body["outcome"], "done", "{body}");
}

/// Approval mode: everyone may reply, only Lee (console and Slack) approves.
const APPROVAL: &str = r#"
[replies]
require_approval = true

[permissions]
reply = ["*"]
escalate = ["*"]
resolve = ["*"]
approve = ["console:lee", "slack:U0LEE00001", "discord:700000000000000003"]
"#;
const BO: &str = "U0BO000001";
const LEE: &str = "U0LEE00001";

fn slack_thread_texts(slack: &FakeSlack, ts: &str) -> Vec<String> {
    slack
        .thread(ts)
        .iter()
        .map(|note| note.body["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn slack_a_draft_waits_for_an_approver_and_approve_posts_it_exactly_once() {
    let slack = FakeSlack::start(&[SLACK_MAIN], &[(ANA, "Ana"), (BO, "Bo"), (LEE, "Lee")]).await;
    let app = TestApp::spawn_with(&format!("{}\n{APPROVAL}", slack.config(SLACK_MAIN))).await;
    slack.wait_connected(1).await;
    app.post(&[complaint("p1", "jo")]);
    wait_until("the card", || slack.card(1).is_some()).await;
    let card = slack.card(1).unwrap();

    // Ana's reply becomes a draft: nothing goes out.
    slack
        .ack(&slack.push_interactive(slack.block_action(ANA, &card, &slack_button(&card, "reply"))))
        .await;
    let view = slack.views().pop().unwrap();
    let text = "@jo so sorry! A new parcel leaves today.";
    let submission = slack.view_submission(
        ANA,
        &view,
        &[(
            "reply_text",
            json!({"type": "plain_text_input", "value": text}),
        )],
    );
    let ack = slack.ack(&slack.push_interactive(submission)).await;
    assert!(ack.get("payload").is_none(), "{ack}");
    wait_until("the draft note", || {
        slack_thread_texts(&slack, &card.ts).iter().any(|note| {
            note.contains("Draft by Ana awaiting approval") && note.contains("new parcel")
        })
    })
    .await;
    wait_until("the card to say a draft waits", || {
        slack
            .card(1)
            .is_some_and(|card| card.all_text().contains("draft by Ana awaiting approval"))
    })
    .await;
    wait_until("the draft notice", || {
        slack.ephemerals().iter().any(|e| {
            e["user"] == ANA
                && e["text"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("Draft saved")
        })
    })
    .await;
    assert!(app.sent_replies().is_empty(), "a draft is not posted");

    // Bo may reply but not approve: a private refusal, nothing changes.
    let card = slack.card(1).unwrap();
    let approve = slack_button(&card, "approve");
    slack
        .ack(&slack.push_interactive(slack.block_action(BO, &card, &approve)))
        .await;
    wait_until("Bo's refusal", || {
        slack.ephemerals().iter().any(|e| {
            e["user"] == BO
                && e["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("not allowed to approve or reject reply drafts")
        })
    })
    .await;
    assert!(app.sent_replies().is_empty());

    // Edit is an approver's form too: Bo gets the refusal instead of a modal.
    let views_before = slack.views().len();
    slack
        .ack(&slack.push_interactive(slack.block_action(BO, &card, &slack_button(&card, "edit"))))
        .await;
    wait_until("Bo's second refusal", || {
        slack
            .ephemerals()
            .iter()
            .filter(|e| e["user"] == BO)
            .count()
            == 2
    })
    .await;
    assert_eq!(slack.views().len(), views_before, "no modal for Bo");

    // Lee approves: exactly one reply, Ana's text, threaded.
    slack
        .ack(&slack.push_interactive(slack.block_action(LEE, &card, &approve)))
        .await;
    wait_until("the reply", || app.sent_replies().len() == 1).await;
    assert_eq!(app.sent_replies()[0]["text"], text);
    wait_until("the approval and reply notes", || {
        let notes = slack_thread_texts(&slack, &card.ts);
        notes.iter().any(|n| n.contains("Lee approved Ana's draft"))
            && notes.iter().any(|n| n.contains("Ana replied publicly"))
    })
    .await;
    // A second click on the stale Approve (Slack retries, double clicks) posts nothing more.
    slack
        .ack(&slack.push_interactive(slack.block_action(LEE, &card, &approve)))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sent_replies().len(), 1, "exactly one public reply");
}

#[tokio::test]
async fn edit_posts_the_approvers_text_and_the_audit_names_author_and_approver() {
    let mut app = app_with_a_draft_by_ana().await;
    let card = app.wait_for_card(1, "claimed", 2).await;
    assert!(card["card"]["state_line"]
        .as_str()
        .unwrap()
        .contains("draft by Ana awaiting approval"));

    // The edit form starts from the draft.
    let form = reply_form(&app, "").await;
    assert_eq!(form["awaiting_approval"], "@jo sorry");
    let edit = app.button(1, "edit").await;
    let (status, body) = app.act("Bo", &edit, json!({"text": "@jo hm"})).await;
    assert_eq!(status, 409, "Bo is no approver: {body}");
    let edited = "@jo we are so sorry: a new parcel leaves today";
    let (_, body) = app.act("Lee", &edit, json!({"text": edited})).await;
    assert_eq!(body["outcome"], "done", "{body}");
    wait_until("the edited reply", || app.sent_replies().len() == 1).await;
    assert_eq!(app.sent_replies()[0]["text"], edited);
    app.wait_for_card(1, "replied", 4).await;

    app.stop().await;
    let store =
        mentiondesk::store::Store::open(&app.dir.path().join("store").join("sled")).unwrap();
    let records = store
        .audit_since(chrono::Utc::now() - chrono::Duration::hours(1))
        .unwrap();
    let sent: Vec<_> = records
        .iter()
        .filter(|r| r.action == mentiondesk::domain::AuditAction::ReplySent)
        .collect();
    assert_eq!(sent.len(), 1, "{records:?}");
    assert_eq!(sent[0].by.as_ref().unwrap().name, "Ana");
    assert_eq!(sent[0].approved_by.as_ref().unwrap().name, "Lee");
    assert_eq!(sent[0].text.as_deref(), Some(edited));
}

#[tokio::test]
async fn reject_keeps_the_draft_for_its_author_and_a_second_draft_is_refused_while_one_waits() {
    let app = app_with_a_draft_by_ana().await;
    app.wait_for_card(1, "claimed", 2).await;

    // Bo's draft conflicts with Ana's: he is told whose waits, and nothing changes.
    let reply = app.button(1, "reply").await;
    let (status, body) = app.act("Bo", &reply, json!({"text": "@jo hello"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Ana's draft is awaiting approval on this case"));
    // Ana revises her own draft.
    let (_, body) = app
        .act("Ana", &reply, json!({"text": "@jo so sorry"}))
        .await;
    assert_eq!(body["outcome"], "done", "{body}");
    let card = app.wait_for_card(1, "claimed", 3).await;
    assert!(crate::helpers::thread_texts(&card)
        .last()
        .unwrap()
        .contains("(revised)"));

    let reject = app.button(1, "reject").await;
    let (_, body) = app
        .act("Lee", &reject, json!({"note": "mention the refund"}))
        .await;
    assert_eq!(body["outcome"], "done", "{body}");
    let card = app.wait_for_card(1, "claimed", 4).await;
    let notes = crate::helpers::thread_texts(&card);
    assert!(
        notes
            .last()
            .unwrap()
            .contains("Lee rejected Ana's draft: mention the refund"),
        "{notes:?}"
    );
    assert!(card["card"]["state_line"]
        .as_str()
        .unwrap()
        .contains("draft rejected by Lee: mention the refund"));
    // The text is kept for Ana's reply form; Bo may now submit his own.
    let form = reply_form(&app, "").await;
    assert_eq!(form["draft"], "@jo so sorry");
    let reply = app.button(1, "reply").await;
    let (_, body) = app.act("Bo", &reply, json!({"text": "@jo hello"})).await;
    assert_eq!(body["outcome"], "done", "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sent_replies().is_empty(), "nothing was approved");
}

/// Approval mode on Discord with Ana's draft "@jo sorry" waiting on case 1, and its card
/// showing the approver's buttons.
async fn discord_with_a_draft() -> (FakeDiscord, TestApp, crate::fakes::discord::Posted) {
    let discord = FakeDiscord::start(&[DISCORD_MAIN]).await;
    let app = TestApp::spawn_with(&format!("{}\n{APPROVAL}", discord.config(DISCORD_MAIN))).await;
    discord.wait_ready().await;
    app.post(&[complaint("p1", "jo")]);
    crate::fakes::discord::wait_until("the card", || discord.card(1).is_some()).await;
    // The console's card may come a moment after Discord's (another lane).
    app.wait_for_card(1, "new", 0).await;
    let reply = app.button(1, "reply").await;
    let (_, body) = app.act("Ana", &reply, json!({"text": "@jo sorry"})).await;
    assert_eq!(body["outcome"], "done", "{body}");
    crate::fakes::discord::wait_until("the approval buttons on Discord", || {
        discord.card(1).is_some_and(|card| {
            let text = card.all_text();
            ["approve:1:", "edit:1:", "reject:1:"]
                .iter()
                .all(|button| text.contains(button))
        })
    })
    .await;
    let card = discord.card(1).unwrap();
    (discord, app, card)
}

#[tokio::test]
async fn discord_an_approver_edits_a_draft_in_a_prefilled_modal() {
    let (discord, app, card) = discord_with_a_draft().await;
    let lee = ("700000000000000003", "Lee");
    let click = discord.push_interaction(discord.click(lee, &card, &card.button("edit")));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 9, "{answer}");
    let modal = answer["data"].clone();
    assert_eq!(
        modal["components"][0]["components"][0]["value"],
        "@jo sorry"
    );
    let edited = "@jo so sorry, a new parcel is on its way";
    let submit = discord.push_interaction(discord.submit(lee, &card, &modal, &[("text", edited)]));
    discord.callback(&submit).await;
    crate::fakes::discord::wait_until("the edited reply", || app.sent_replies().len() == 1).await;
    assert_eq!(app.sent_replies()[0]["text"], edited);
}

#[tokio::test]
async fn discord_refuses_a_non_approver_privately_at_approve_edit_and_reject() {
    let (discord, app, card) = discord_with_a_draft().await;
    let updates_before = card.updates;

    // Bo may reply but not approve: each of the approver's buttons answers him privately
    // (type 4, flags 64: ephemeral), with no modal and no change to the card.
    let bo = ("700000000000000002", "Bo");
    for verb in ["approve", "edit", "reject"] {
        let click = discord.push_interaction(discord.click(bo, &card, &card.button(verb)));
        let answer = discord.callback(&click).await;
        assert_eq!(answer["type"], 4, "{verb}: {answer}");
        assert_eq!(answer["data"]["flags"], 64, "{verb}: {answer}");
        assert!(
            answer["data"]["content"]
                .as_str()
                .unwrap_or_default()
                .contains("not allowed to approve or reject reply drafts"),
            "{verb}: {answer}"
        );
    }
    assert!(app.sent_replies().is_empty(), "nothing was approved");
    let now = discord.card(1).unwrap();
    assert_eq!(now.updates, updates_before, "no click updated the card");
    assert!(now.all_text().contains("draft by Ana awaiting approval"));
    let console = app.wait_for_card(1, "claimed", 2).await;
    assert!(
        !crate::helpers::thread_texts(&console)
            .iter()
            .any(|note| note.contains("approved") || note.contains("rejected")),
        "{console}"
    );
}

#[tokio::test]
async fn a_kill_between_approval_and_the_post_does_not_duplicate_the_reply() {
    use crate::crash::{button as card_button, Bot};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mentiondesk.toml"),
        crate::helpers::test_config(dir.path(), APPROVAL),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mentions.jsonl"),
        format!("{}\n", complaint("p1", "jo")),
    )
    .unwrap();
    let text = "@jo sorry, a refund is on its way";
    let mut bot = Bot::start(dir.path(), Some("reply.after_execute"));
    let messages = bot.wait_for("mentions", |m| m.len() == 1).await;
    let outcome = bot
        .act(&card_button(&messages, "reply"), json!({ "text": text }))
        .await;
    assert_eq!(outcome["outcome"], "done", "{outcome}");
    let messages = bot
        .wait_for("mentions", |m| {
            m[0]["card"]["buttons"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| b["kind"] == "approve"))
        })
        .await;
    let outcome = bot
        .act(
            &card_button(&messages, "approve"),
            json!({ "agent": "Lee" }),
        )
        .await;
    assert_eq!(outcome["outcome"], "done", "{outcome}");
    bot.wait_line(|line| line.contains("Failpoint reached: reply.after_execute"));
    bot.kill();

    let bot = Bot::start(dir.path(), None);
    bot.wait_for("mentions", |m| m[0]["card"]["state"] == "replied")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = crate::helpers::read_jsonl(&dir.path().join("sent.jsonl"));
    assert_eq!(sent.len(), 1, "exactly one public reply: {sent:?}");
    assert_eq!(sent[0]["text"], text);
    let messages = bot.messages("mentions").await;
    let notes = crate::helpers::thread_texts(&messages[0]);
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.contains("replied publicly"))
            .count(),
        1,
        "{notes:?}"
    );
}

#[tokio::test]
async fn slack_and_discord_reject_ask_for_an_optional_reason() {
    let slack = FakeSlack::start(&[SLACK_MAIN], &[(ANA, "Ana"), (LEE, "Lee")]).await;
    let discord = FakeDiscord::start(&[DISCORD_MAIN]).await;
    let app = TestApp::spawn_with(&format!(
        "{}\n{}\n{APPROVAL}",
        slack.config(SLACK_MAIN),
        discord.config(DISCORD_MAIN)
    ))
    .await;
    slack.wait_connected(1).await;
    discord.wait_ready().await;
    app.post(&[complaint("p1", "jo"), complaint("p2", "mo")]);
    app.wait_for_card(2, "new", 0).await;
    for case in [1, 2] {
        let reply = app.button(case, "reply").await;
        let (_, body) = app.act("Ana", &reply, json!({"text": "@jo sorry"})).await;
        assert_eq!(body["outcome"], "done", "{body}");
    }

    // Slack: a modal with the reason.
    wait_until("the Reject button in Slack", || {
        slack
            .card(1)
            .is_some_and(|card| card.all_text().contains("draft by Ana awaiting approval"))
    })
    .await;
    let card = slack.card(1).unwrap();
    slack
        .ack(&slack.push_interactive(slack.block_action(
            LEE,
            &card,
            &slack_button(&card, "reject"),
        )))
        .await;
    let view = slack.views().pop().unwrap();
    assert_eq!(view["callback_id"], "mentiondesk_reject");
    let submission = slack.view_submission(
        LEE,
        &view,
        &[(
            "reason",
            json!({"type": "plain_text_input", "value": "say when it ships"}),
        )],
    );
    slack.ack(&slack.push_interactive(submission)).await;
    wait_until("the rejection note in Slack", || {
        slack_thread_texts(&slack, &card.ts)
            .iter()
            .any(|n| n.contains("Lee rejected Ana's draft: say when it ships"))
    })
    .await;

    // Discord: the same as a modal (type 9).
    crate::fakes::discord::wait_until("the Reject button on Discord", || {
        discord
            .card(2)
            .is_some_and(|card| card.all_text().contains("reject:2:"))
    })
    .await;
    let card = discord.card(2).unwrap();
    let lee = ("700000000000000003", "Lee");
    let click = discord.push_interaction(discord.click(lee, &card, &card.button("reject")));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 9, "{answer}");
    let submit = discord.push_interaction(discord.submit(
        lee,
        &card,
        &answer["data"],
        &[("reason", "too short")],
    ));
    discord.callback(&submit).await;
    let card = app.wait_for_card(2, "claimed", 3).await;
    assert!(
        crate::helpers::thread_texts(&card)
            .last()
            .unwrap()
            .contains("Lee rejected Ana's draft: too short"),
        "{card}"
    );
    assert!(app.sent_replies().is_empty());
}
