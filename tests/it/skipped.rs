//! The "Skipped" review: posts triage stored without a card are listed (newest first, masked,
//! with label, score, reason and a link) in the console's Skipped tab, Slack's and Discord's
//! `/mentiondesk skipped`; "Mark as complaint" opens one case whatever the clicks, restarts or
//! chats, stores a label, and is refused to people without the `resolve` permission.

use std::time::Duration;

use serde_json::{json, Value};

use mentiondesk::config;
use mentiondesk::domain::Label;
use mentiondesk::store::Store;

use crate::fakes::discord::{FakeDiscord, Posted as DiscordPosted};
use crate::fakes::slack::{wait_until, FakeSlack};
use crate::helpers::{bsky, card_of, complaint, TestApp};

/// A question triage leaves without a card (and personal data the list must mask).
const QUESTION: &str =
    "@acme.bsky.social which plan includes the hub? you can write to ana.ruiz@example.com";

fn question(id: &str, handle: &str) -> Value {
    bsky(id, handle, QUESTION, None)
}

/// The console's skipped list (`/api/skipped`), newest first.
async fn skipped(app: &TestApp) -> Vec<Value> {
    let url = format!("{}/api/skipped", app.console);
    let response = reqwest::get(url).await.expect("console answers");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("skipped json")
}

/// Waits until the skipped list holds `count` posts.
async fn wait_skipped(app: &TestApp, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let posts = skipped(app).await;
        if posts.len() >= count {
            return posts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} skipped posts never came: {posts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn store_of(app: &TestApp) -> Store {
    let settings = config::parse(&app.config, &|_| None, app.dir.path()).expect("config");
    Store::open(&settings.store.path.join("sled")).expect("store opens")
}

#[tokio::test]
async fn the_console_lists_skipped_posts_and_mark_as_complaint_opens_one_case() {
    let app = TestApp::spawn_with("").await;
    app.post(&[question("q1", "asker.bsky.social")]);
    app.post(&[complaint("c1", "jo")]);
    app.post(&[bsky(
        "q2",
        "later.bsky.social",
        "@acme.bsky.social does the app work on tablets too?",
        None,
    )]);
    app.wait_for("mentions", |m| card_of(m, 1).is_some()).await;
    let posts = wait_skipped(&app, 2).await;
    assert_eq!(
        posts.len(),
        2,
        "the complaint is a card, not skipped: {posts:?}"
    );
    // Newest first.
    assert_eq!(posts[0]["handle"], "later.bsky.social");
    let post = &posts[1];
    assert_eq!(post["handle"], "asker.bsky.social");
    assert_ne!(post["label"], "complaint");
    assert!(
        post["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{post}"
    );
    assert!(post["score"].is_number(), "{post}");
    assert_eq!(
        post["url"],
        "https://bsky.app/profile/asker.bsky.social/post/q1"
    );
    let text = post["text"].as_str().unwrap();
    assert!(text.contains("which plan includes the hub"), "{text}");
    assert!(!text.contains("ana.ruiz@example.com"), "masked: {text}");
    assert_eq!(post["case"], Value::Null);
    let mark = post["payload"]
        .as_str()
        .expect("a Mark as complaint payload");
    assert!(mark.starts_with("skipped:"), "{mark}");

    // The page: a Skipped tab beside the channels, the post with its button, no raw email.
    let page = reqwest::get(format!("{}/skipped", app.console))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"data-view="skipped" href="/skipped""#),
        "the tab"
    );
    assert!(
        page.contains(&format!(r#"data-payload="{mark}""#)),
        "the button"
    );
    assert!(page.contains("which plan includes the hub"));
    assert!(!page.contains("ana.ruiz@example.com"));
    let mentions = reqwest::get(app.console.clone())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(mentions.contains(">Skipped</a>"), "every page has the tab");

    // A double click: both requests at once; one case.
    let (first, second) = tokio::join!(
        app.act("Bo", mark, json!({})),
        app.act("Ana", mark, json!({}))
    );
    let statuses = [first.0, second.0];
    assert!(statuses.contains(&200), "{first:?} {second:?}");
    let (done, refused) = if first.0 == 200 {
        (&first.1, &second.1)
    } else {
        (&second.1, &first.1)
    };
    assert_eq!(done["notice"], "Moved to the complaint queue as case #2");
    assert!(
        refused
            .to_string()
            .contains("Already in the complaint queue as case #2"),
        "{refused}"
    );
    let main = app.wait_for("mentions", |m| card_of(m, 2).is_some()).await;
    assert_eq!(main.len(), 2, "one complaint card for the skipped post");
    let moved = card_of(&main, 2).unwrap();
    assert_eq!(moved["card"]["triage"]["label"], "complaint");
    assert!(moved["card"]["triage"]["reason"]
        .as_str()
        .unwrap()
        .contains("marked as a complaint by"));
    assert!(!moved["card"]["text"]
        .as_str()
        .unwrap()
        .contains("ana.ruiz@example.com"));
    assert!(moved["card"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["kind"] == "claim"));

    // The list says what became of it, and keeps triage's own verdict.
    let posts = skipped(&app).await;
    assert_eq!(posts[1]["case"], 2);
    assert_eq!(posts[1]["payload"], Value::Null);
    assert_eq!(posts[1]["label"], post["label"]);
    assert_eq!(posts[0]["case"], Value::Null);

    // A follow-up by the customer joins the new case.
    app.post(&[bsky(
        "q1-more",
        "asker.bsky.social",
        "still waiting for an answer",
        Some((
            "at://did:plc:asker.bsky.social/app.bsky.feed.post/q1",
            "at://did:plc:asker.bsky.social/app.bsky.feed.post/q1",
        )),
    )]);
    app.wait_for_card(2, "new", 1).await;

    // After a restart the old button still answers, and opens nothing new.
    let mut app = app.restart().await;
    let (status, body) = app.act("Bo", mark, json!({})).await;
    assert_ne!(status, 200, "{body}");
    assert!(body.to_string().contains("Already in the complaint queue"));
    assert_eq!(app.messages("mentions").await.len(), 2);
    app.stop().await;

    let store = store_of(&app);
    let labels: Vec<_> = store.labels().collect::<Result<_, _>>().expect("labels");
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(labels[0].label, Label::Complaint);
    assert!(labels[0].text.contains("which plan includes the hub"));
}

#[tokio::test]
async fn only_people_allowed_to_resolve_may_mark_a_skipped_post() {
    let app = TestApp::spawn_with(
        "[permissions]\nreply = [\"*\"]\nescalate = [\"*\"]\nresolve = [\"console:ana\"]",
    )
    .await;
    app.post(&[question("q1", "asker.bsky.social")]);
    let posts = wait_skipped(&app, 1).await;
    let mark = posts[0]["payload"].as_str().unwrap().to_string();

    let (status, body) = app.act("Bo", &mark, json!({})).await;
    assert_ne!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "You are not allowed to move posts to the complaint queue for Acme. Ask an admin to add you to [permissions].resolve."
    );
    assert!(app.messages("mentions").await.is_empty(), "nothing opened");
    assert_eq!(skipped(&app).await[0]["case"], Value::Null);

    let (status, body) = app.act("Ana", &mark, json!({})).await;
    assert_eq!(status, 200, "{body}");
    app.wait_for("mentions", |m| card_of(m, 1).is_some()).await;
}

#[tokio::test]
async fn praise_in_the_kudos_channel_is_listed_and_marking_it_moves_the_kudos_too() {
    let app = TestApp::spawn_with("[triage]\nkudos = true").await;
    app.post(&[bsky(
        "k1",
        "fan.bsky.social",
        "thanks @acme.bsky.social, great job, love that the app logs me out every hour, amazing",
        None,
    )]);
    let kudos = app.wait_for("kudos", |m| !m.is_empty()).await;
    let posts = wait_skipped(&app, 1).await;
    assert_eq!(posts[0]["label"], "praise");
    let mark = posts[0]["payload"].as_str().unwrap().to_string();
    let (status, body) = app.act("Ana", &mark, json!({})).await;
    assert_eq!(status, 200, "{body}");
    app.wait_for("mentions", |m| card_of(m, 1).is_some()).await;
    // The kudos card says so and its own button refuses: still one case.
    app.wait_for("kudos", |m| {
        m[0]["card"]["state_line"]
            .as_str()
            .is_some_and(|line| line.contains("Moved to the complaint queue by Ana"))
    })
    .await;
    let (status, body) = app.act("Bo", "complaint:1:0", json!({})).await;
    assert_ne!(status, 200, "{body}");
    assert_eq!(kudos.len(), 1);
    assert_eq!(app.messages("mentions").await.len(), 1);
}

// --- Slack. ---

const SLACK_MAIN: &str = "C0MENTIONS1";
const SLACK_ANA: &str = "U0ANA00001";
const SLACK_BO: &str = "U0BO000001";

#[tokio::test]
async fn slack_skipped_answers_privately_with_buttons_that_open_one_case() {
    let slack = FakeSlack::start(&[SLACK_MAIN], &[(SLACK_ANA, "Ana"), (SLACK_BO, "Bo")]).await;
    let extra = format!(
        "{}\n[permissions]\nreply = [\"*\"]\nescalate = [\"*\"]\nresolve = [\"slack:{SLACK_ANA}\"]\n",
        slack.config(SLACK_MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    slack.wait_connected(1).await;
    app.post(&[question("q1", "asker.bsky.social")]);
    wait_skipped(&app, 1).await;

    let ack = slack
        .ack(&slack.push_command(SLACK_ANA, SLACK_MAIN, "skipped"))
        .await;
    let answer = &ack["payload"];
    assert_eq!(answer["response_type"], "ephemeral", "{ack}");
    let text = answer["text"].as_str().unwrap();
    assert!(text.contains("Skipped: the 1 newest post"), "{text}");
    assert!(text.contains("@asker.bsky.social"), "{text}");
    assert!(!text.contains("ana.ruiz@example.com"), "{text}");
    let blocks = answer["blocks"].as_array().expect("blocks");
    let post = blocks
        .iter()
        .find(|block| block["accessory"]["type"] == "button")
        .unwrap_or_else(|| panic!("a post with a button: {answer}"));
    let section = post["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("<https://bsky.app/profile/asker.bsky.social/post/q1|View post>"),
        "{section}"
    );
    let mark = post["accessory"]["value"].as_str().unwrap().to_string();
    assert!(mark.starts_with("skipped:"), "{mark}");
    assert_eq!(post["accessory"]["text"]["text"], "Mark as complaint");
    assert!(
        slack.cards(SLACK_MAIN).is_empty(),
        "nothing posted in the channel"
    );

    // Bo may not; nothing is opened and he hears why, privately.
    slack.push_interactive(slack.ephemeral_block_action(SLACK_BO, SLACK_MAIN, &mark));
    wait_until("Bo's refusal", || {
        slack.ephemerals().iter().any(|e| {
            e["user"] == SLACK_BO
                && e["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("not allowed to move posts"))
        })
    })
    .await;

    // Ana clicks twice: one case, one card, and the second click hears it is done.
    for _ in 0..2 {
        let envelope =
            slack.push_interactive(slack.ephemeral_block_action(SLACK_ANA, SLACK_MAIN, &mark));
        slack.ack(&envelope).await;
    }
    wait_until("the complaint card in Slack", || slack.card(1).is_some()).await;
    wait_until("Ana's two answers", || {
        let texts: Vec<String> = slack
            .ephemerals()
            .iter()
            .filter(|e| e["user"] == SLACK_ANA)
            .filter_map(|e| e["text"].as_str().map(str::to_string))
            .collect();
        texts
            .iter()
            .any(|t| t == "Moved to the complaint queue as case #1")
            && texts
                .iter()
                .any(|t| t.contains("Already in the complaint queue as case #1"))
    })
    .await;
    // The private list itself is replaced with its state now (through the response URL).
    wait_until("the list updated in place", || {
        slack.responses().iter().any(|r| {
            r["replace_original"] == true
                && r["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("now case #1"))
        })
    })
    .await;
    let replaced = slack.responses().last().cloned().unwrap();
    assert!(
        !replaced.to_string().contains(&format!("\"{mark}\"")),
        "{replaced}"
    );
    let card = slack.card(1).unwrap();
    assert_eq!(card.channel, SLACK_MAIN);
    assert!(card.all_text().contains("marked as a complaint by Ana"));
    assert_eq!(slack.cards(SLACK_MAIN).len(), 1);

    // Asked again, the list says what became of it and has no button for it.
    let ack = slack
        .ack(&slack.push_command(SLACK_BO, SLACK_MAIN, "skipped"))
        .await;
    let answer = &ack["payload"];
    assert!(
        answer["text"].as_str().unwrap().contains("now case #1"),
        "{answer}"
    );
    assert!(
        !answer.to_string().contains(&format!("\"{mark}\"")),
        "{answer}"
    );
    app.wait_for("mentions", |m| card_of(m, 1).is_some()).await;
}

// --- Discord. ---

const DISCORD_MAIN: &str = "500000000000000001";
const DISCORD_ANA: (&str, &str) = ("700000000000000001", "Ana");

#[tokio::test]
async fn discord_skipped_answers_privately_and_its_button_updates_the_list() {
    let discord = FakeDiscord::start(&[DISCORD_MAIN]).await;
    let app = TestApp::spawn_with(&discord.config(DISCORD_MAIN)).await;
    discord.wait_ready().await;
    wait_until("the guild command", || !discord.commands().is_empty()).await;
    let subs = discord.commands()[0]["options"].to_string();
    assert!(subs.contains("\"skipped\""), "{subs}");
    app.post(&[question("q1", "asker.bsky.social")]);
    app.post(&[complaint("c1", "jo")]);
    wait_until("the complaint's card", || discord.card(1).is_some()).await;
    wait_skipped(&app, 1).await;

    let id = discord.push_interaction(discord.command(DISCORD_ANA, DISCORD_MAIN, "skipped"));
    let answer = discord.callback(&id).await;
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(
        answer["data"]["flags"], 64,
        "only the asker sees it: {answer}"
    );
    let embed = &answer["data"]["embeds"][0];
    assert_eq!(embed["title"], "Skipped: 1 recent posts without a card");
    let text = embed["description"].as_str().unwrap();
    assert!(text.contains("@asker.bsky.social"), "{text}");
    assert!(
        text.contains("[post](https://bsky.app/profile/asker.bsky.social/post/q1)"),
        "{text}"
    );
    assert!(!text.contains("ana.ruiz@example.com"), "{text}");
    let button = &answer["data"]["components"][0]["components"][0];
    assert_eq!(button["label"], "Mark 1 as complaint");
    let mark = button["custom_id"].as_str().unwrap().to_string();
    assert!(mark.starts_with("skipped:"), "{mark}");

    // The private answer as the click's message (Discord sends the message clicked on).
    let mut message: DiscordPosted = discord.card(1).unwrap();
    message.id = "900000000000000001".to_string();
    message.current["id"] = json!(message.id);
    message.current["flags"] = json!(64);
    message.current["embeds"] = answer["data"]["embeds"].clone();
    message.current["components"] = answer["data"]["components"].clone();
    let click = discord.push_interaction(discord.click(DISCORD_ANA, &message, &mark));
    let update = discord.callback(&click).await;
    assert_eq!(update["type"], 7, "the list is updated in place: {update}");
    let text = update["data"]["embeds"][0]["description"].as_str().unwrap();
    assert!(text.contains("now case #2"), "{text}");
    assert!(
        update["data"]["components"]
            .as_array()
            .map_or(true, Vec::is_empty),
        "no button left: {update}"
    );
    wait_until("the new case's card", || discord.card(2).is_some()).await;
    assert_eq!(discord.cards(DISCORD_MAIN).len(), 2);
    wait_until("the private notice", || {
        discord
            .followups()
            .iter()
            .any(|f| f["content"] == "Moved to the complaint queue as case #2")
    })
    .await;

    // A second click on the old answer opens nothing and says why.
    let click = discord.push_interaction(discord.click(DISCORD_ANA, &message, &mark));
    let refusal = discord.callback(&click).await;
    assert_eq!(refusal["type"], 4, "{refusal}");
    assert!(refusal["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Already in the complaint queue as case #2"));
    app.wait_for("mentions", |m| card_of(m, 2).is_some()).await;
    assert_eq!(discord.cards(DISCORD_MAIN).len(), 2);
}
