//! Storm collapse: a burst of near-identical complaints becomes one incident card with a
//! counter and its members in the thread; every post is stored; unrelated complaints keep
//! their own cards; a restart in the middle of a storm keeps adding to the same incident.

use mentiondesk::domain::{CaseId, Mention, PostRef};
use mentiondesk::outbox::Outbox;
use mentiondesk::pipeline::storm::StormRules;
use mentiondesk::pipeline::{Pipeline, TriageRules, Triager};
use mentiondesk::sources::SourceBatch;
use mentiondesk::store::{OutboxTask, Store};
use serde_json::Value;

use crate::helpers::{bsky, bsky_uri, card_of, thread_texts, TestApp};

/// Storm collapse with its defaults.
const STORM: &str = "[triage.storm]\nenabled = true\n";

/// One post of the storm: the same complaint with small variations (a retweet prefix, a word
/// added, a word changed, other punctuation), by a different author each time.
fn storm_text(n: usize) -> String {
    let mut text = String::new();
    if n % 4 == 0 {
        text.push_str(&format!("RT @fan{n}: "));
    }
    text.push_str("@acme.bsky.social the app has been down all morning, I ");
    if n % 3 == 1 {
        text.push_str("still ");
    }
    text.push_str("can't log in and my orders are stuck.");
    text.push_str(match n % 5 {
        0 => " Fix it!",
        1 => " fix it please",
        2 => " FIX IT!!!",
        3 => " Fix it now",
        _ => " Fix it.",
    });
    text
}

const UNRELATED: [(&str, &str, &str); 3] = [
    (
        "u1",
        "ria",
        "@acme.bsky.social I was charged twice for my subscription and still no refund",
    ),
    (
        "u2",
        "tom",
        "@acme.bsky.social my parcel never arrived, third week waiting and support ignores me",
    ),
    (
        "u3",
        "ada",
        "@acme.bsky.social the invoice shows the wrong address again, this is the third time",
    ),
];

fn storm_post(n: usize) -> Value {
    bsky(&format!("s{n}"), &format!("user{n}"), &storm_text(n), None)
}

fn incident_count(message: &Value) -> Option<u64> {
    message["card"]["similar_posts"].as_u64()
}

/// Member lines listed in a card's thread.
fn member_lines(message: &Value) -> usize {
    thread_texts(message)
        .iter()
        .filter(|text| text.starts_with("Incident: "))
        .map(|text| text.lines().filter(|line| line.starts_with("• @")).count())
        .sum()
}

#[tokio::test]
async fn a_burst_of_200_near_identical_posts_is_one_incident_card() {
    let mut app = TestApp::spawn_with(STORM).await;
    let mut burst: Vec<Value> = (0..200).map(storm_post).collect();
    // Unrelated complaints arrive in the middle of the storm.
    for (index, (id, handle, text)) in UNRELATED.iter().enumerate() {
        burst.insert(50 + index * 60, bsky(id, handle, text, None));
    }
    // Two deliveries, so the incident grows over more than one round.
    app.post(&burst[..120]);
    app.wait_for("mentions", |m| {
        m.iter().any(|c| incident_count(c).is_some())
    })
    .await;
    app.post(&burst[120..]);
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|c| incident_count(c) == Some(200) && member_lines(c) == 199)
                && m.len() >= 4
        })
        .await;

    let incident = card_of(&messages, 1).expect("incident card");
    assert_eq!(incident["card"]["author_handle"], "user0");
    let notes = thread_texts(incident);
    let member_notes: Vec<&String> = notes
        .iter()
        .filter(|n| n.starts_with("Incident: "))
        .collect();
    assert!(
        member_notes.len() <= 20,
        "members are batched, not one note each: {} notes",
        member_notes.len()
    );
    assert!(
        member_notes
            .iter()
            .any(|n| n.contains("• @user199 https://bsky.app/profile/user199/post/s199")),
        "{member_notes:?}"
    );
    // Exactly one incident card; each unrelated complaint has its own card.
    let cards: Vec<&Value> = messages
        .iter()
        .filter(|m| m["card"]["kind"]["type"] == "case")
        .collect();
    assert_eq!(cards.len(), 4, "one incident and three unrelated cards");
    assert_eq!(
        cards.iter().filter(|c| incident_count(c).is_some()).count(),
        1
    );
    let mut handles: Vec<&str> = cards
        .iter()
        .filter(|c| incident_count(c).is_none())
        .filter_map(|c| c["card"]["author_handle"].as_str())
        .collect();
    handles.sort();
    assert_eq!(handles, ["ada", "ria", "tom"]);

    // Every post is stored, the storm's indexed to the incident (so follow-ups find it).
    app.stop().await;
    let store = Store::open(&app.dir.path().join("store/sled")).unwrap();
    for n in 0..200 {
        let post = PostRef::new(
            mentiondesk::domain::Network::Bluesky,
            bsky_uri(&format!("user{n}"), &format!("s{n}")),
        );
        let stored = store
            .post(&post)
            .unwrap()
            .unwrap_or_else(|| panic!("post s{n} stored ({} posts)", store.post_count()));
        assert_eq!(stored.case, Some(CaseId(1)), "post s{n}");
    }
    let case = store.case(CaseId(1)).unwrap().unwrap();
    assert_eq!(case.similar_posts, 199);
    assert_eq!(store.post_count(), 203);
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_storm_keeps_the_same_incident() {
    let app = TestApp::spawn_with(STORM).await;
    app.post(&(0..30).map(storm_post).collect::<Vec<_>>());
    app.wait_for("mentions", |m| {
        card_of(m, 1).is_some_and(|c| incident_count(c) == Some(30))
    })
    .await;

    let app = app.restart().await;
    app.post(&(30..60).map(storm_post).collect::<Vec<_>>());
    // A customer's follow-up to a member post joins the incident too.
    app.post(&[bsky(
        "f1",
        "user42",
        "@acme.bsky.social any news? still down here",
        Some((&bsky_uri("user42", "s42"), &bsky_uri("user42", "s42"))),
    )]);
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|c| {
                incident_count(c) == Some(60)
                    && thread_texts(c).iter().any(|t| t.contains("any news?"))
            })
        })
        .await;
    let cards = messages
        .iter()
        .filter(|m| m["card"]["kind"]["type"] == "case")
        .count();
    assert_eq!(cards, 1, "still one card after the restart");
}

fn mention(value: Value) -> Mention {
    let mut mention: Mention = serde_json::from_value(value).unwrap();
    mention.source = "demo".to_string();
    mention
}

/// The card of an incident is synced once per pipeline round, not once per member.
#[tokio::test]
async fn an_incident_costs_one_card_sync_per_round() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let outbox = Outbox::new(&["console".to_string()], &[]);
    let pipeline = Pipeline::new(
        store.clone(),
        Triager::new(TriageRules::default()),
        &["acme.bsky.social".to_string()],
        outbox,
    )
    .with_storm(StormRules::default())
    .unwrap();
    for round in 0..4 {
        let (stored, _) = tokio::sync::oneshot::channel();
        let batch = SourceBatch {
            source: "demo".to_string(),
            mentions: (round * 50..round * 50 + 50)
                .map(|n| mention(storm_post(n)))
                .collect(),
            cursor: None,
            stored,
        };
        let report = pipeline.ingest(&[batch]).await.unwrap();
        assert_eq!(report.opened, usize::from(round == 0));
        assert_eq!(report.collapsed, if round == 0 { 49 } else { 50 });
    }
    let lane = store.outbox_lane("chat/console", 10_000).unwrap();
    let syncs = lane
        .iter()
        .filter(|(_, entry)| entry.task == OutboxTask::SyncCard)
        .count();
    let notes = lane
        .iter()
        .filter(|(_, entry)| matches!(entry.task, OutboxTask::ThreadNote { .. }))
        .count();
    // Round 1: the opening and the first members (two syncs); then one per round.
    assert_eq!(syncs, 5, "{lane:?}");
    assert_eq!(
        notes,
        3 + 3 * 3,
        "20 members a note: 49 = 3 notes, 50 = 3 notes"
    );
    assert_eq!(store.case(CaseId(1)).unwrap().unwrap().similar_posts, 199);
}

/// In Slack, a storm of 100 posts is one card, edited a few times (not once per post), with
/// its members in a handful of thread replies.
#[tokio::test]
async fn in_slack_a_storm_is_one_card_and_a_few_edits() {
    use crate::fakes::slack::{wait_until, FakeSlack};
    const MAIN: &str = "C0MENTIONS1";
    let slack = FakeSlack::start(&[MAIN], &[]).await;
    let app = TestApp::spawn_with(&format!("{STORM}{}", slack.config(MAIN))).await;
    slack.wait_connected(1).await;
    app.post(&(0..100).map(storm_post).collect::<Vec<_>>());
    wait_until("the incident card says 100 similar posts", || {
        slack
            .card(1)
            .is_some_and(|card| card.all_text().contains("100 similar posts"))
    })
    .await;
    wait_until("99 members in the thread", || {
        slack.card(1).is_some_and(|card| {
            slack
                .thread(&card.ts)
                .iter()
                .map(|note| note.all_text().matches("• @user").count())
                .sum::<usize>()
                == 99
        })
    })
    .await;
    assert_eq!(slack.cards(MAIN).len(), 1, "one card for the storm");
    let updates = slack.server.requests_to("POST", "/api/chat.update").len();
    assert!(updates <= 5, "{updates} chat.update calls for 100 posts");
    let notes = slack.thread(&slack.card(1).unwrap().ts).len();
    assert!(notes <= 10, "{notes} thread replies for 99 members");
}
