//! Discord end to end against the fake Discord: cards, clicks over the gateway, modals, threads,
//! escalation, rate limits and reconnects, and Slack and Discord at once. Clicks travel the real
//! path: the fake's gateway dispatches INTERACTION_CREATE to serenity, the adapter answers on
//! the interaction callback endpoint.

use serde_json::Value;

use crate::fakes::discord::{wait_until, FakeDiscord, Posted, BOT_ID, GUILD};
use crate::fakes::mastodon::MastodonFake;
use crate::fakes::slack::FakeSlack;
use crate::fakes::Fault;
use crate::helpers::{check_chat_token, complaint, rewind_to_a_lost_card_record, TestApp};

const MAIN: &str = "500000000000000001";
const TIER2: &str = "500000000000000002";
const TIER2_ROLE: &str = "600000000000000002";
const ANA: (&str, &str) = ("700000000000000001", "Ana");
const BO: (&str, &str) = ("700000000000000002", "Bo");

async fn discord_app() -> (FakeDiscord, TestApp) {
    discord_app_with("").await
}

async fn discord_app_with(more: &str) -> (FakeDiscord, TestApp) {
    let discord = FakeDiscord::start(&[MAIN, TIER2]).await;
    let extra = format!(
        "{}\n[[escalations]]\nid = \"tier2\"\nlabel = \"Tier 2\"\ndiscord_channel = \"{TIER2}\"\nmention = \"{TIER2_ROLE}\"\n{more}",
        discord.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    discord.wait_ready().await;
    (discord, app)
}

async fn card(discord: &FakeDiscord, case: u64) -> Posted {
    wait_until(&format!("the card of case {case}"), || {
        discord.card(case).is_some()
    })
    .await;
    discord.card(case).unwrap()
}

async fn wait_for_update(discord: &FakeDiscord, case: u64, needle: &str) -> Posted {
    wait_until(&format!("card {case} to show {needle:?}"), || {
        discord
            .card(case)
            .is_some_and(|card| card.edits + card.updates > 0 && card.all_text().contains(needle))
    })
    .await;
    discord.card(case).unwrap()
}

async fn wait_for_note(discord: &FakeDiscord, card: &Posted, needle: &str) {
    wait_until(&format!("a thread note with {needle:?}"), || {
        discord
            .thread_text(&card.id)
            .iter()
            .any(|note| note.contains(needle))
    })
    .await;
}

#[tokio::test]
async fn a_complaint_becomes_an_embed_card_with_buttons_and_a_nonce() {
    let (discord, app) = discord_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;

    assert_eq!(card.channel, MAIN);
    let body = &card.body;
    let nonce = body["nonce"].as_str().unwrap();
    assert!(nonce.len() <= 25, "{nonce}");
    assert_eq!(body["enforce_nonce"], true);
    let embed = &body["embeds"][0];
    assert_eq!(embed["title"], "Complaint on Bluesky");
    assert_eq!(embed["url"], "https://bsky.app/profile/jo/post/p1");
    assert_eq!(embed["color"], 0xE74C3C);
    assert!(embed["description"]
        .as_str()
        .unwrap()
        .contains("my order never arrived"));
    let text = card.all_text();
    for expected in ["Network", "Bluesky", "@jo", "complaint", "New · unclaimed"] {
        assert!(text.contains(expected), "{expected:?} missing in {text}");
    }
    assert_eq!(card.button("claim"), "claim:1:1");
    assert!(card.button("reply").starts_with("reply:1:"));
    assert!(card.button("escalate").starts_with("escalate:1:"));
    assert!(card.button("resolve").starts_with("resolve:1:"));
    assert!(card.button("dismiss").starts_with("dismiss:1:"));
    assert_eq!(body["components"].as_array().unwrap().len(), 2);
    // Nothing in a card may ping anyone.
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    app.wait_for("mentions", |m| m.len() == 1).await;
}

#[tokio::test]
async fn claim_answers_with_the_updated_card_and_the_loser_hears_privately() {
    let (discord, app) = discord_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;
    let claim = card.button("claim");

    // Ana and Bo click the same Claim at once; the engine orders them and one wins.
    let ana = discord.push_interaction(discord.click(ANA, &card, &claim));
    let bo = discord.push_interaction(discord.click(BO, &card, &claim));
    let answers = [
        (ANA.1, discord.callback(&ana).await),
        (BO.1, discord.callback(&bo).await),
    ];
    let (winner, update) = answers
        .iter()
        .find(|(_, answer)| answer["type"] == 7)
        .unwrap_or_else(|| panic!("one UPDATE_MESSAGE: {answers:?}"));
    let (_, refusal) = answers
        .iter()
        .find(|(_, answer)| answer["type"] == 4)
        .unwrap_or_else(|| panic!("one private message: {answers:?}"));
    // The winner's click answers with the card as it is now.
    let embed = &update["data"]["embeds"][0];
    assert!(
        embed.to_string().contains(&format!("owner {winner}")),
        "{embed}"
    );
    assert_eq!(embed["color"], 0xF1C40F);
    let buttons = update["data"]["components"].to_string();
    assert!(buttons.contains("\"unclaim:1:2\""), "{buttons}");
    assert!(!buttons.contains("\"claim:1:"), "{buttons}");
    // The loser hears it privately (flags 64: ephemeral), and the card is not touched by it.
    assert_eq!(refusal["data"]["flags"], 64, "{refusal}");
    assert_eq!(
        refusal["data"]["content"],
        format!("Already claimed by {winner}.")
    );
    assert!(refusal["data"]["embeds"]
        .as_array()
        .map_or(true, Vec::is_empty));

    // Consistent afterwards: the outbox's own edit shows the same card, one note, the console
    // agrees, and nothing deferred the clicks.
    wait_until("the outbox's edit", || {
        discord.card(1).is_some_and(|card| card.edits > 0)
    })
    .await;
    let now = discord.card(1).unwrap();
    assert_eq!(now.updates, 1, "one click updated the card");
    assert_eq!(now.current["embeds"], update["data"]["embeds"]);
    assert_eq!(now.current["components"], update["data"]["components"]);
    wait_for_note(&discord, &card, &format!("Claimed by {winner}")).await;
    let console = app.wait_for_card(1, "claimed", 1).await;
    assert_eq!(console["card"]["owner"], *winner);
    assert!(discord
        .callbacks()
        .iter()
        .all(|(_, body)| body["type"] != 6));
    let claims = discord
        .thread_text(&card.id)
        .iter()
        .filter(|note| note.contains("Claimed by"))
        .count();
    assert_eq!(claims, 1, "{:?}", discord.thread_text(&card.id));
}

#[tokio::test]
async fn reply_opens_a_modal_and_the_submit_replies_threads_and_updates_the_card() {
    let (discord, app) = discord_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;

    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("reply")));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 9, "a modal first: {answer}");
    let modal = answer["data"].clone();
    let input = &modal["components"][0]["components"][0];
    assert_eq!(input["max_length"], 300);
    assert_eq!(input["value"], "@jo ");
    assert_eq!(input["style"], 2);

    let text = "@jo so sorry! We've reshipped it today.";
    let submit = discord.push_interaction(discord.submit(ANA, &card, &modal, &[("text", text)]));
    assert_eq!(discord.callback(&submit).await["type"], 6);

    wait_until("the reply on the network", || {
        !app.sent_replies().is_empty()
    })
    .await;
    let sent = app.sent_replies();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["text"], text);
    wait_for_note(&discord, &card, "replied publicly").await;
    let thread = discord.thread(&card.id);
    assert!(thread.iter().all(|note| note.channel == card.id));
    assert!(
        discord
            .server
            .requests_to(
                "POST",
                &format!("/api/v10/channels/{MAIN}/messages/{}/threads", card.id)
            )
            .len()
            == 1,
        "one thread, started once"
    );
    wait_for_update(&discord, 1, "1 public reply").await;
    wait_until("the queued notice", || {
        discord.followups().iter().any(|f| {
            f["content"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Reply queued")
        })
    })
    .await;
}

#[tokio::test]
async fn a_reply_with_personal_data_is_held_privately_and_its_text_is_kept() {
    let (discord, app) = discord_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;
    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("reply")));
    let modal = discord.callback(&click).await["data"].clone();

    // Discord enforces the modal's max_length itself, so the engine's other form error is
    // the one to show: personal data, held until confirmed.
    let with_pii = "@jo write to me at ana@example.com";
    let submit =
        discord.push_interaction(discord.submit(ANA, &card, &modal, &[("text", with_pii)]));
    discord.callback(&submit).await;
    wait_until("the private warning", || {
        discord.followups().iter().any(|f| {
            f["content"]
                .as_str()
                .unwrap_or_default()
                .contains("Discord cannot keep the form open")
        })
    })
    .await;
    assert!(app.sent_replies().is_empty(), "nothing posted");

    // The next Reply modal starts from the kept text.
    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("reply")));
    let modal = discord.callback(&click).await["data"].clone();
    assert_eq!(modal["components"][0]["components"][0]["value"], with_pii);
    let submit = discord.push_interaction(discord.submit(
        ANA,
        &card,
        &modal,
        &[("text", with_pii), ("confirm", "yes")],
    ));
    discord.callback(&submit).await;
    wait_until("the confirmed reply", || app.sent_replies().len() == 1).await;
}

#[tokio::test]
async fn escalate_posts_a_linked_card_pinging_the_role_and_a_thread_note() {
    let (discord, app) = discord_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;
    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("escalate")));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 9);
    let modal = answer["data"].clone();
    let target = &modal["components"][0]["components"][0];
    assert!(target["placeholder"]
        .as_str()
        .unwrap()
        .contains("tier2 = Tier 2"));

    let submit = discord.push_interaction(discord.submit(
        ANA,
        &card,
        &modal,
        &[("target", "tier2"), ("note", "refund **now**")],
    ));
    discord.callback(&submit).await;
    wait_until("the linked card", || !discord.cards(TIER2).is_empty()).await;
    let linked = discord.cards(TIER2).pop().unwrap();
    assert_eq!(linked.body["content"], format!("<@&{TIER2_ROLE}>"));
    assert_eq!(
        linked.body["allowed_mentions"]["roles"],
        serde_json::json!([TIER2_ROLE])
    );
    assert!(
        linked
            .all_text()
            .contains("to **Tier 2** by Ana\\nrefund \\\\*\\\\*now\\\\*\\\\*"),
        "{}",
        linked.all_text()
    );
    wait_for_note(&discord, &card, "Tier 2").await;
    app.wait_for("tier2", |m| m.len() == 1).await;

    // An unknown target is refused privately.
    let click = discord.push_interaction(discord.click(BO, &card, &card.button("escalate")));
    let modal = discord.callback(&click).await["data"].clone();
    let submit =
        discord.push_interaction(discord.submit(BO, &card, &modal, &[("target", "nobody")]));
    discord.callback(&submit).await;
    wait_until("the refusal", || {
        discord.followups().iter().any(|f| {
            f["flags"] == 64
                && f["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("unknown escalation target \"nobody\"")
        })
    })
    .await;
}

const LEADS_ROLE: &str = "600000000000000010";

/// A click or submit by a member with exactly these roles.
fn with_roles(mut interaction: Value, roles: &[&str]) -> Value {
    interaction["member"]["roles"] = serde_json::json!(roles);
    interaction
}

#[tokio::test]
async fn discord_roles_decide_who_may_reply_publicly_and_escalate() {
    let permissions = format!(
        "[permissions]\nreply = [\"discord-role:{LEADS_ROLE}\"]\nescalate = [\"discord-role:{LEADS_ROLE}\"]\nresolve = [\"discord:*\"]\n"
    );
    let (discord, app) = discord_app_with(&permissions).await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;

    // Bo has another role: Reply publicly and Escalate answer with a private refusal instead
    // of their form.
    for (verb, sentence) in [
        (
            "reply",
            "You are not allowed to reply publicly for Acme. Ask an admin to add you to [permissions].reply.",
        ),
        (
            "escalate",
            "You are not allowed to escalate cases for Acme. Ask an admin to add you to [permissions].escalate.",
        ),
    ] {
        let click = discord.push_interaction(discord.click(BO, &card, &card.button(verb)));
        let answer = discord.callback(&click).await;
        assert_eq!(answer["type"], 4, "{answer}");
        assert_eq!(answer["data"]["flags"], 64, "{answer}");
        assert_eq!(answer["data"]["content"], sentence);
    }
    // A form he still has open (opened before his role was taken away) is refused by the
    // engine at the submit.
    let click = discord.push_interaction(with_roles(
        discord.click(BO, &card, &card.button("reply")),
        &[LEADS_ROLE],
    ));
    let modal = discord.callback(&click).await["data"].clone();
    let text = "@jo so sorry! We've reshipped it today.";
    let submit = discord.push_interaction(discord.submit(BO, &card, &modal, &[("text", text)]));
    discord.callback(&submit).await;
    wait_until("the refusal of the submit", || {
        discord.followups().iter().any(|f| {
            f["flags"] == 64
                && f["content"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("You are not allowed to reply publicly")
        })
    })
    .await;
    assert!(app.sent_replies().is_empty(), "nothing reached the network");
    assert!(discord.cards(TIER2).is_empty(), "no escalation");
    assert!(
        discord.thread_text(&card.id).is_empty(),
        "refusals leave no trace in the thread"
    );

    // Ana has the role: the form opens and the reply goes out, with its thread note.
    let click = discord.push_interaction(with_roles(
        discord.click(ANA, &card, &card.button("reply")),
        &["333333333333333333", LEADS_ROLE],
    ));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 9, "{answer}");
    let submit = discord.push_interaction(with_roles(
        discord.submit(ANA, &card, &answer["data"], &[("text", text)]),
        &[LEADS_ROLE],
    ));
    discord.callback(&submit).await;
    wait_until("the reply on the network", || app.sent_replies().len() == 1).await;
    assert_eq!(app.sent_replies()[0]["text"], text);
    wait_for_note(&discord, &card, "replied publicly").await;

    // Everyone in Discord may resolve: Bo's click answers with the resolved card.
    let card = discord.card(1).unwrap();
    let click = discord.push_interaction(discord.click(BO, &card, &card.button("resolve")));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 7, "{answer}");
    app.wait_for_card(1, "resolved", 1).await;
}

#[tokio::test]
async fn rate_limits_delay_cards_but_lose_none() {
    let (discord, app) = discord_app().await;
    discord.rate_limit_next(3);
    let mentions: Vec<Value> = (1..=8)
        .map(|n| complaint(&format!("p{n}"), &format!("user{n}")))
        .collect();
    app.post(&mentions);
    wait_until("eight cards", || discord.cards(MAIN).len() == 8).await;
    let mut footers: Vec<String> = discord.cards(MAIN).iter().map(Posted::footer).collect();
    footers.sort();
    footers.dedup();
    assert_eq!(footers.len(), 8, "one card per case, none twice");
    let creates = discord
        .server
        .requests_to("POST", &format!("/api/v10/channels/{MAIN}/messages"))
        .len();
    assert!(creates >= 8 + 3, "the 429s were retried ({creates})");
    assert_eq!(
        discord.rate_limited(),
        0,
        "the adapter paces itself below 5 per 5 s"
    );
}

#[tokio::test]
async fn after_a_gateway_reconnect_it_resumes_and_keeps_handling_clicks() {
    let (discord, app) = discord_app().await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;

    discord.reconnect();
    wait_until("a resumed session", || {
        discord.connections() >= 2 && discord.sessions().1 >= 1
    })
    .await;
    // READY named a distinct resume_gateway_url (`/resume`); serenity 0.12.5 does not read it
    // and resumes on the URL `GET /gateway` gave (see ARCHITECTURE.md, Discord). Pinned here so
    // an upgrade that starts using it is noticed.
    assert_eq!(
        discord.resume_paths(),
        ["/"],
        "resumed on the GET /gateway URL"
    );
    assert_eq!(discord.sessions().0, 1, "resumed, not identified again");

    // The gateway drops the connection (close 4000): resumed again, on the same URL.
    discord.close_all(4000);
    wait_until("a second resume", || discord.sessions().1 >= 2).await;
    assert_eq!(discord.resume_paths(), ["/", "/"]);
    assert_eq!(discord.sessions().0, 1);
    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("claim")));
    discord.callback(&click).await;
    wait_for_update(&discord, 1, "owner Ana").await;
    app.wait_for_card(1, "claimed", 1).await;
}

#[tokio::test]
async fn a_claim_in_discord_updates_the_slack_card_too() {
    let discord = FakeDiscord::start(&[MAIN]).await;
    let slack = FakeSlack::start(&["C0MENTIONS1"], &[]).await;
    let extra = format!("{}\n{}", discord.config(MAIN), slack.config("C0MENTIONS1"));
    let app = TestApp::spawn_with(&extra).await;
    discord.wait_ready().await;
    slack.wait_connected(1).await;
    app.post(&[complaint("p1", "jo")]);
    let card = card(&discord, 1).await;
    crate::fakes::slack::wait_until("the slack card", || slack.card(1).is_some()).await;

    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("claim")));
    discord.callback(&click).await;
    wait_for_update(&discord, 1, "owner Ana").await;
    crate::fakes::slack::wait_until("the slack card to show Ana", || {
        slack
            .card(1)
            .is_some_and(|c| c.updated.is_some() && c.all_text().contains("owner Ana"))
    })
    .await;
    crate::fakes::slack::wait_until("the slack thread note", || {
        let ts = slack.card(1).unwrap().ts;
        slack
            .thread(&ts)
            .iter()
            .any(|n| n.body["text"] == "Claimed by Ana")
    })
    .await;
    // And the Discord thread has the same note.
    wait_for_note(&discord, &card, "Claimed by Ana").await;
}

#[tokio::test]
async fn check_validates_the_token_and_prints_the_invite_url() {
    let discord = FakeDiscord::start(&[MAIN]).await;
    let table = discord.config(MAIN);
    let check =
        |token: &'static str| check_chat_token(&table, crate::fakes::discord::BOT_TOKEN, token);
    let (code, stdout, _) = check(crate::fakes::discord::BOT_TOKEN).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("discord.bot_token: ok (bot mentiondeskbot, id 111111111111111111)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{}/oauth2/authorize?client_id={}&scope=bot&permissions=309237730304",
            discord.server.base_url,
            crate::fakes::discord::BOT_ID
        )),
        "{stdout}"
    );
    let (code, _, stderr) = check("revoked-token").await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("discord.bot_token: Discord refused the token"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("revoked-token"),
        "the token is never printed"
    );
}

/// The fake's payloads are what serenity reads: an interaction that does not deserialize would
/// be dropped as an unknown event.
#[tokio::test]
async fn the_fake_speaks_what_serenity_reads() {
    let discord = FakeDiscord::start(&[MAIN]).await;
    let message = Posted {
        id: "1".into(),
        channel: MAIN.into(),
        body: Value::Null,
        current: crate::fakes::discord::sample_message(MAIN),
        edits: 0,
        updates: 0,
    };
    let mut click = discord.click(ANA, &message, "claim:1:1");
    click["id"] = serde_json::json!("1400000000000000001");
    click["token"] = serde_json::json!("token");
    let parsed: Result<serenity::all::Interaction, _> = serde_json::from_value(click);
    assert!(parsed.is_ok(), "{parsed:?}");
}

/// The crash window of a card post: Discord took the message, the process died before the
/// store recorded it. After the restart the adapter finds its card among the channel's recent
/// messages (the key is in the embed footer) instead of posting a second one.
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
    let (discord, mut app) = discord_app().await;
    app.post(&[complaint("p1", "jo")]);
    let posted = card(&discord, 1).await;
    app.stop().await;

    rewind_to_a_lost_card_record(&app, "discord", 1, marker_on_disk).await;

    let app = app.restart().await;
    wait_until("the history lookup", || {
        !discord
            .server
            .requests_to("GET", &format!("/api/v10/channels/{MAIN}/messages"))
            .is_empty()
    })
    .await;
    wait_until("a second gateway session", || discord.sessions().0 >= 2).await;
    // A claim now edits the original message: its id was recovered.
    let click = discord.push_interaction(discord.click(ANA, &posted, &posted.button("claim")));
    discord.callback(&click).await;
    wait_for_update(&discord, 1, "owner Ana").await;
    app.wait_for_card(1, "claimed", 1).await;
    assert_eq!(discord.cards(MAIN).len(), 1, "still one card");
}

#[tokio::test]
async fn slash_commands_answer_privately_and_the_queue_lists_oldest_first() {
    let (discord, app) = discord_app().await;
    wait_until("the guild command", || !discord.commands().is_empty()).await;
    let puts = discord.server.requests_to(
        "PUT",
        &format!("/api/v10/applications/{BOT_ID}/guilds/{GUILD}/commands"),
    );
    assert_eq!(puts.len(), 1, "registered once, by bulk overwrite");
    let body = puts[0].json();
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["name"], "mentiondesk");
    let subs: Vec<&str> = body[0]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["queue", "mine", "stats", "skipped"]);

    // Three cases, one after the other; Ana claims the middle one.
    for (n, handle) in [(1, "al"), (2, "bo"), (3, "cy")] {
        app.post(&[complaint(&format!("p{n}"), handle)]);
        card(&discord, n).await;
    }
    let second = discord.card(2).unwrap();
    let click = discord.push_interaction(discord.click(ANA, &second, &second.button("claim")));
    assert_eq!(discord.callback(&click).await["type"], 7);

    let ask = |user: (&'static str, &'static str), sub: &'static str| {
        let discord = discord.clone();
        async move {
            let id = discord.push_interaction(discord.command(user, MAIN, sub));
            let answer = discord.callback(&id).await;
            assert_eq!(answer["type"], 4, "{answer}");
            assert_eq!(
                answer["data"]["flags"], 64,
                "only the asker sees it: {answer}"
            );
            answer["data"]["embeds"][0].clone()
        }
    };
    let queue = ask(BO, "queue").await;
    assert_eq!(queue["title"], "Queue: 2 open, unclaimed");
    let text = queue["description"].as_str().unwrap();
    let first = text.find("**Case 1**").expect(text);
    let third = text.find("**Case 3**").expect(text);
    assert!(first < third, "oldest first: {text}");
    assert!(!text.contains("**Case 2**"), "{text}");
    assert!(text.contains("@al"), "{text}");
    let first_card = discord.card(1).unwrap();
    assert!(
        text.contains(&format!(
            "[card]({}/channels/{GUILD}/{MAIN}/{})",
            discord.server.base_url, first_card.id
        )),
        "{text}"
    );

    let mine = ask(ANA, "mine").await;
    assert_eq!(mine["title"], "Your open cases: 1");
    assert!(mine["description"]
        .as_str()
        .unwrap()
        .starts_with("**Case 2** · Bluesky · @bo · claimed by Ana"));
    let bos = ask(BO, "mine").await;
    assert_eq!(bos["description"], "You own no open cases.");

    let stats = ask(BO, "stats").await;
    let text = stats["description"].as_str().unwrap();
    assert!(
        text.starts_with("Opened today: **3** (new 2 · claimed 1"),
        "{text}"
    );
    assert!(text.contains("Open now: **3**, 2 unclaimed"), "{text}");
    // Commands change nothing.
    app.wait_for_card(2, "claimed", 1).await;
    assert_eq!(discord.cards(MAIN).len(), 3);
}

/// The engine is late (held here until the click was deferred): the click gets a deferred
/// update (type 6) in time, and the answer comes after, privately.
#[tokio::test]
async fn a_late_engine_defers_the_click_and_answers_privately_after() {
    use mentiondesk::chat::discord::DiscordChat;
    use mentiondesk::chat::ActionOutcome;

    let discord = FakeDiscord::start(&[MAIN]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = crate::helpers::test_config(dir.path(), &discord.config(MAIN));
    let settings = mentiondesk::config::parse(&text, &|_| None, dir.path()).unwrap();
    let store = mentiondesk::store::Store::open(&dir.path().join("late-store")).unwrap();
    let chat = std::sync::Arc::new(
        DiscordChat::new(settings.discord.as_ref().unwrap(), &[], store)
            .with_click_bound(std::time::Duration::from_millis(50)),
    );
    let (events, mut engine) = tokio::sync::mpsc::channel(4);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(chat.clone().run(events, shutdown.clone()));
    discord.wait_ready().await;

    let message = Posted {
        id: "1300000000000000000".into(),
        channel: MAIN.into(),
        body: Value::Null,
        current: crate::fakes::discord::sample_message(MAIN),
        edits: 0,
        updates: 0,
    };
    let click = discord.push_interaction(discord.click(ANA, &message, "claim:1:1"));
    let event = engine.recv().await.expect("the click reaches the engine");
    assert_eq!(event.agent.id, format!("discord:{}", ANA.0));
    let answer = discord.callback(&click).await;
    assert_eq!(
        answer["type"], 6,
        "deferred while the engine works: {answer}"
    );
    event
        .respond
        .send(ActionOutcome::Refused {
            message: "Already claimed by Bo.".into(),
        })
        .unwrap();
    wait_until("the late private answer", || {
        discord
            .followups()
            .iter()
            .any(|f| f["content"] == "Already claimed by Bo." && f["flags"] == 64)
    })
    .await;
    assert_eq!(
        discord.callbacks().len(),
        1,
        "one response to the interaction"
    );
    shutdown.cancel();
    running.await.unwrap();
}

/// The Reply modal allows what the case's source counts with: a Mastodon instance that allows
/// 1000 characters, not Mastodon's default of 500.
#[tokio::test]
async fn the_reply_modal_allows_the_limit_of_the_cases_source() {
    let mastodon =
        crate::fakes::mastodon::MastodonFake::start_with(crate::fakes::mastodon::Options {
            max_characters: 1000,
            ..crate::fakes::mastodon::Options::default()
        })
        .await;
    let discord = FakeDiscord::start(&[MAIN]).await;
    let app = TestApp::spawn_with(&format!(
        "{}\n{}",
        mastodon.source_toml("masto"),
        discord.config(MAIN)
    ))
    .await;
    discord.wait_ready().await;
    mastodon.mention("jo", "my order never arrived and support ignores me");
    let card = card(&discord, 1).await;
    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("reply")));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 9, "{answer}");
    assert_eq!(
        answer["data"]["components"][0]["components"][0]["max_length"],
        1000
    );
    drop(app);
}

const OPS: &str = "500000000000000009";

/// A Mastodon source whose first two polls fail, with `[discord]` (and `more` in it): the
/// health notice about it comes after 300 ms.
async fn failing_source_with_discord(more: &str) -> (MastodonFake, FakeDiscord, TestApp) {
    let mastodon = MastodonFake::start().await;
    for _ in 0..2 {
        mastodon
            .server
            .inject("/api/v1/notifications", Fault::Status(503, "maintenance"));
    }
    let discord = FakeDiscord::start(&[MAIN, OPS]).await;
    let extra = format!(
        "health_notice_after = \"300ms\"\n{}{}{more}",
        mastodon.source_toml("masto"),
        discord.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    discord.wait_ready().await;
    (mastodon, discord, app)
}

#[tokio::test]
async fn a_health_notice_arrives_in_the_ops_channel_without_pinging() {
    let (_mastodon, discord, _app) =
        failing_source_with_discord(&format!("ops_channel = \"{OPS}\"\n")).await;
    wait_until("the failure notice in the ops channel", || {
        discord
            .messages()
            .iter()
            .any(|m| m.channel == OPS && m.all_text().contains("source:masto has been failing"))
    })
    .await;
    let notice = discord
        .messages()
        .into_iter()
        .find(|m| m.channel == OPS)
        .unwrap();
    // A plain message: no embed, no buttons.
    assert_eq!(
        notice.body["embeds"],
        serde_json::json!([]),
        "{}",
        notice.body
    );
    assert!(notice.body["components"].is_null(), "{}", notice.body);
    assert_eq!(
        notice.body["allowed_mentions"]["parse"],
        serde_json::json!([]),
        "{}",
        notice.body
    );
    assert!(discord
        .messages()
        .iter()
        .all(|m| m.channel == OPS || !m.all_text().contains("source:masto")));
}

#[tokio::test]
async fn without_an_ops_channel_discord_gets_no_notice() {
    let (_mastodon, discord, app) = failing_source_with_discord("").await;
    // The console's ops channel shows it; Discord has nowhere to put it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let notices = reqwest::get(format!("{}/api/notices", app.console))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if notices.contains("source:masto has been failing") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notice: {notices}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        discord
            .messages()
            .iter()
            .all(|m| !m.all_text().contains("source:masto")),
        "{:?}",
        discord.messages()
    );
}
