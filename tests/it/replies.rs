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
    let form: Value = reqwest::get(format!(
        "{}/api/cases/1/reply-form?agent=Ana%20Bee",
        app.console
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
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
