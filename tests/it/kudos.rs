//! Kudos: with `[triage].kudos = true` praise goes to a kudos channel as a light card (no
//! card in the main channel); "Mark as complaint" opens one complaint case whatever the
//! number of clicks or restarts, stores a label, and a retrain learns from it.

use serde_json::{json, Value};

use mentiondesk::config;
use mentiondesk::domain::{Label, Mention};
use mentiondesk::store::Store;
use mentiondesk::training::{build_triager, train};

use crate::fakes::slack::{wait_until, FakeSlack};
use crate::helpers::{bsky, card_of, within, TestApp};

/// Sarcasm the lexicon reads as praise: thanks, great, love.
fn sarcasm(n: usize) -> String {
    format!("thanks @acme.bsky.social, great job, love that the app logs me out every hour {n} times a day, amazing")
}

/// The kudos cards in the console's kudos channel.
async fn kudos_cards(app: &TestApp, count: usize) -> Vec<Value> {
    app.wait_for("kudos", |messages| messages.len() >= count)
        .await
}

fn payload(card: &Value) -> Option<String> {
    card["card"]["buttons"]
        .as_array()?
        .iter()
        .find(|button| button["kind"] == "mark_complaint")
        .and_then(|button| button["payload"].as_str())
        .map(str::to_string)
}

fn mention(text: &str) -> Mention {
    serde_json::from_value(bsky("new", "someone.bsky.social", text, None)).expect("mention")
}

#[tokio::test]
async fn praise_goes_to_the_kudos_channel_and_mark_as_complaint_opens_one_case() {
    let app = TestApp::spawn_with("[triage]\nkudos = true\nmin_labels = 20").await;
    app.post(&[
        bsky("k1", "fan.bsky.social", &sarcasm(1), None),
        bsky(
            "c1",
            "jo.bsky.social",
            "@acme.bsky.social my order never arrived and support ignores me",
            None,
        ),
    ]);
    let kudos = kudos_cards(&app, 1).await;
    assert_eq!(kudos.len(), 1);
    assert_eq!(kudos[0]["card"]["kind"]["type"], "kudos");
    assert_eq!(kudos[0]["card"]["triage"]["label"], "praise");
    let mark = payload(&kudos[0]).expect("a Mark as complaint button");
    assert_eq!(mark, "complaint:1:0");
    let main = app.wait_for("mentions", |m| card_of(m, 1).is_some()).await;
    assert_eq!(
        main.len(),
        1,
        "only the complaint has a card in the main channel"
    );

    // A double click: both requests at once.
    let (first, second) = tokio::join!(
        app.act("Bo", &mark, json!({})),
        app.act("Ana", &mark, json!({}))
    );
    let statuses = [first.0, second.0];
    assert!(statuses.contains(&200), "{first:?} {second:?}");
    let refused = if first.0 == 200 { &second.1 } else { &first.1 };
    assert!(
        refused.to_string().contains("Already moved"),
        "{first:?} {second:?}"
    );
    let main = app.wait_for("mentions", |m| card_of(m, 2).is_some()).await;
    assert_eq!(main.len(), 2, "one complaint card for the kudos");
    let moved = card_of(&main, 2).unwrap();
    assert_eq!(moved["card"]["triage"]["label"], "complaint");
    assert!(moved["card"]["text"]
        .as_str()
        .unwrap()
        .contains("logs me out"));
    let kudos = app
        .wait_for("kudos", |m| {
            m[0]["card"]["state_line"]
                .as_str()
                .is_some_and(|line| line.contains("Moved to the complaint queue by"))
        })
        .await;
    assert!(payload(&kudos[0]).is_none(), "the button is gone");
    assert!(
        kudos[0]["card"]["state_line"]
            .as_str()
            .unwrap()
            .contains("case #2"),
        "{}",
        kudos[0]["card"]
    );

    // After a restart the old button still answers, and opens nothing new.
    let mut app = app.restart().await;
    let (status, body) = app.act("Bo", &mark, json!({})).await;
    assert_ne!(status, 200, "{body}");
    assert_eq!(app.messages("mentions").await.len(), 2);
    app.stop().await;

    let settings = config::parse(&app.config, &|_| None, app.dir.path()).expect("config");
    let store = Store::open(&settings.store.path.join("sled")).expect("store opens");
    let labels: Vec<_> = store.labels().collect::<Result<_, _>>().expect("labels");
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].label, Label::Complaint);
    assert!(labels[0].text.contains("logs me out"));
}

#[tokio::test]
async fn mark_as_complaint_labels_train_a_model_that_changes_a_prediction() {
    let app = TestApp::spawn_with("[triage]\nkudos = true\nmin_labels = 20").await;
    let posts: Vec<_> = (1..=8)
        .map(|n| {
            bsky(
                &format!("k{n}"),
                &format!("fan{n}.bsky.social"),
                &sarcasm(n),
                None,
            )
        })
        .collect();
    app.post(&posts);
    let kudos = kudos_cards(&app, 8).await;
    for card in &kudos {
        let mark = payload(card).expect("button");
        let (status, body) = app.act("Bo", &mark, json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    app.wait_for("mentions", |m| m.len() == 8).await;
    let mut app = app;
    app.stop().await;

    let settings = config::parse(&app.config, &|_| None, app.dir.path()).expect("config");
    let store = Store::open(&settings.store.path.join("sled")).expect("store opens");
    let newcomer = mention(&sarcasm(9));
    let before = build_triager(&settings, &store).triage(&newcomer);
    assert_eq!(before.label, Label::Praise, "{before:?}");

    let fixture =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triage-eval.csv");
    let report = train(&store, Some(&fixture)).await.expect("training works");
    assert_eq!(report.from_store, 8);
    let triager = build_triager(&settings, &store);
    assert!(triager.model().is_some());
    let after = triager.triage(&newcomer);
    assert_eq!(after.label, Label::Complaint, "{after:?}");
}

#[tokio::test]
async fn slack_gets_the_kudos_card_in_its_kudos_channel_and_a_click_moves_it() {
    const MAIN: &str = "C0MENTIONS1";
    const KUDOS: &str = "C0KUDOS0001";
    let slack = FakeSlack::start(&[MAIN, KUDOS], &[("U0BO000001", "Bo")]).await;
    let extra = format!(
        "{}kudos_channel = \"{KUDOS}\"\n\n[triage]\nkudos = true\n",
        slack.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    slack.wait_connected(1).await;
    app.post(&[bsky("k1", "fan.bsky.social", &sarcasm(1), None)]);
    wait_until("the kudos card", || slack.cards(KUDOS).len() == 1).await;
    let card = slack.cards(KUDOS).remove(0);
    assert_eq!(card.key(), Some("kudos-1"));
    assert!(
        card.all_text().contains("logs me out"),
        "{}",
        card.all_text()
    );
    assert!(slack.cards(MAIN).is_empty(), "no card in the main channel");

    let envelope = slack.push_interactive(slack.block_action("U0BO000001", &card, "complaint:1:0"));
    slack.ack(&envelope).await;
    wait_until("the complaint card", || slack.card(1).is_some()).await;
    assert_eq!(slack.cards(MAIN).len(), 1);
    wait_until("the kudos card edited", || {
        slack.cards(KUDOS)[0]
            .all_text()
            .contains("Moved to the complaint queue by Bo")
    })
    .await;
    // The console, which has a kudos channel too, shows the same.
    app.wait_for("mentions", |m| card_of(m, 1).is_some()).await;
    let mut app = app;
    app.stop().await;
}

#[tokio::test]
async fn discord_gets_the_kudos_card_in_its_kudos_channel_and_a_click_moves_it() {
    use crate::fakes::discord::FakeDiscord;
    const MAIN: &str = "500000000000000001";
    const KUDOS: &str = "500000000000000007";
    const BO: (&str, &str) = ("700000000000000002", "Bo");
    let discord = FakeDiscord::start(&[MAIN, KUDOS]).await;
    let extra = format!(
        "{}kudos_channel = \"{KUDOS}\"\n\n[triage]\nkudos = true\n",
        discord.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    discord.wait_ready().await;
    app.post(&[bsky("k1", "fan.bsky.social", &sarcasm(1), None)]);
    wait_until("the kudos card", || discord.cards(KUDOS).len() == 1).await;
    let card = discord.cards(KUDOS).remove(0);
    assert!(card.footer().ends_with("kudos-1"), "{}", card.footer());
    assert!(
        card.all_text().contains("logs me out"),
        "{}",
        card.all_text()
    );
    let mark = card.button("complaint");
    assert_eq!(mark, "complaint:1:0");
    assert!(
        discord.cards(MAIN).is_empty(),
        "no card in the main channel"
    );

    // Bo's click is acknowledged with a deferred update; the outbox does the rest.
    let click = discord.push_interaction(discord.click(BO, &card, &mark));
    let answer = discord.callback(&click).await;
    assert_eq!(answer["type"], 6, "{answer}");
    wait_until("the complaint card", || discord.card(1).is_some()).await;
    let complaint = discord.card(1).unwrap();
    assert_eq!(complaint.channel, MAIN);
    assert!(
        complaint.all_text().contains("logs me out"),
        "{}",
        complaint.all_text()
    );
    wait_until("the kudos card edited", || {
        discord.cards(KUDOS)[0]
            .all_text()
            .contains("Moved to the complaint queue by Bo")
    })
    .await;
    let moved = discord.cards(KUDOS).remove(0);
    assert!(moved.edits > 0, "edited in place");
    assert!(
        moved.current["components"]
            .as_array()
            .map_or(true, |rows| rows.is_empty()),
        "the button is gone: {}",
        moved.current["components"]
    );
    assert!(moved.all_text().contains("case #1"), "{}", moved.all_text());
    // Still one kudos message and one complaint card.
    assert_eq!(discord.cards(KUDOS).len(), 1);
    assert_eq!(discord.cards(MAIN).len(), 1);
    app.wait_for("mentions", |m| card_of(m, 1).is_some()).await;
    let mut app = app;
    app.stop().await;
}

/// The `chat.postMessage` requests Slack received for the message keyed `key`, in order.
fn slack_posts_keyed(slack: &FakeSlack, key: &str) -> Vec<crate::fakes::Recorded> {
    slack
        .server
        .requests_to("POST", "/api/chat.postMessage")
        .into_iter()
        .filter(|request| request.json()["metadata"]["event_payload"]["key"] == key)
        .collect()
}

/// One kudos card Slack refuses for good (`msg_too_long`, for that message only) is tried
/// three times and set aside; it does not hold back the next kudos card nor the case card
/// queued after it on the same lane (each kudos card is a subject of its own, not "case 0").
/// A kudos card's metadata names a kudos, not a case. Paused time.
#[tokio::test(start_paused = true)]
async fn a_kudos_card_slack_refuses_for_good_holds_back_no_other_card() {
    const MAIN: &str = "C0MENTIONS1";
    const KUDOS: &str = "C0KUDOS0001";
    let slack = FakeSlack::start(&[MAIN, KUDOS], &[]).await;
    slack.refuse_key("kudos-1", "msg_too_long");
    let extra = format!(
        "{}kudos_channel = \"{KUDOS}\"\n\n[triage]\nkudos = true\n",
        slack.config(MAIN)
    );
    let app = TestApp::spawn_with(&extra).await;
    slack.wait_connected(1).await;
    app.post(&[
        bsky("k1", "fan1.bsky.social", &sarcasm(1), None),
        bsky("k2", "fan2.bsky.social", &sarcasm(2), None),
        crate::helpers::complaint("p1", "jo"),
    ]);
    let limit = std::time::Duration::from_secs(600);
    within(limit, "the second kudos card and the case card", || {
        slack.cards(KUDOS).len() == 1 && slack.card(1).is_some()
    })
    .await;
    let refused = slack_posts_keyed(&slack, "kudos-1");
    let next_kudos = slack_posts_keyed(&slack, "kudos-2");
    let case = slack_posts_keyed(&slack, "case-1");
    assert!(!refused.is_empty(), "kudos 1 was tried first");
    for (what, posted) in [
        ("the next kudos card", &next_kudos),
        ("the case card", &case),
    ] {
        assert_eq!(posted.len(), 1, "{what} posted once");
        assert!(
            refused.len() == 1 || posted[0].clock < refused[1].clock,
            "{what} waited for kudos 1's retries"
        );
    }

    // Kudos 1 is set aside after three attempts; nothing else is posted twice.
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    assert_eq!(slack_posts_keyed(&slack, "kudos-1").len(), 3);
    let kudos = slack.cards(KUDOS);
    assert_eq!(kudos.len(), 1, "only kudos 2 is up");
    assert_eq!(kudos[0].key(), Some("kudos-2"));
    let metadata = &kudos[0].body["metadata"]["event_payload"];
    assert_eq!(metadata["kind"], "kudos", "{metadata}");
    assert_eq!(metadata["kudos_id"], "2", "{metadata}");
    assert!(metadata.get("case_id").is_none(), "not a case: {metadata}");
    let case_card = slack.card(1).expect("the case card");
    assert_eq!(case_card.body["metadata"]["event_payload"]["case_id"], "1");
    assert_eq!(slack.cards(MAIN).len(), 1);
}
