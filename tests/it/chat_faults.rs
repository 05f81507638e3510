//! The fault matrix's chat side (see RELIABILITY.md): what the outbox does after a card is up —
//! Slack `chat.update` and thread `chat.postMessage`, Discord message edits and thread notes —
//! under 429 + `Retry-After`, 5xx (also after the chat acted), cut connections, timeouts,
//! malformed answers and refused connections: retried, nothing lost, nothing twice, one
//! connector-health notice and one recovery notice. The inline calls a click makes (Slack
//! `views.open`, Discord's interaction callback) cannot be retried later (a trigger id lives
//! 3 s): a failed one leaves the person a way on (Slack: a private "click again"; Discord: the
//! outbox edits the card the failed answer would have shown). A card one chat refuses for good
//! does not hold up other cases' cards. Paused time, except where noted.

use std::time::Duration;

use axum::http::Method;
use serde_json::json;

use crate::fakes::discord::FakeDiscord;
use crate::fakes::slack::{FakeSlack, TRIGGER_LIFE};
use crate::fakes::{FakeServer, Fault, Recorded};
use crate::helpers::{complaint, panics_here, within, TestApp};

const SLACK_MAIN: &str = "C0MENTIONS1";
const DISCORD_MAIN: &str = "500000000000000001";
const ANA_SLACK: &str = "U0ANA00001";
const ANA_DISCORD: (&str, &str) = ("700000000000000001", "Ana");
const LONG: Duration = Duration::from_secs(900);

/// Every fault a chat's answer can have, in the order they are queued: those of
/// [`Fault::every_http`] (a 3 s rate limit, a 503, a cut connection, a timeout, a malformed
/// answer), then a 503 after the chat acted.
fn every_fault() -> Vec<Fault> {
    let mut faults = Fault::every_http();
    faults.push(Fault::Status(503, "{\"error\":\"over capacity\"}").after_acting());
    faults
}

/// Claims case `case` in the console as Ana.
async fn claim_in_console(app: &TestApp, case: u64) {
    let claim = app.button(case, "claim").await;
    let (status, body) = app.act("Ana", &claim, json!({})).await;
    assert_eq!(status, 200, "{body}");
}

/// The wait after the request answered 429 until the next one to the same place (tokio's clock).
fn wait_after_rate_limit(requests: &[Recorded]) -> Duration {
    requests[1].clock - requests[0].clock
}

/// The notices about `component` the console holds.
async fn notices_about(app: &TestApp, component: &str) -> Vec<String> {
    app.notices()
        .await
        .into_iter()
        .filter(|notice| notice.contains(component))
        .collect()
}

/// Waits (paused time) until the console holds `count` notices about `component`.
async fn wait_for_notices(app: &TestApp, component: &str, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let notices = notices_about(app, component).await;
        if notices.len() >= count {
            return notices;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} notices about {component}: {notices:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn slack_app(extra: &str) -> (FakeSlack, TestApp) {
    let slack = FakeSlack::start(&[SLACK_MAIN], &[(ANA_SLACK, "Ana")]).await;
    let app = TestApp::spawn_with(&format!("{extra}{}", slack.config(SLACK_MAIN))).await;
    slack.wait_connected(1).await;
    (slack, app)
}

async fn discord_app(extra: &str) -> (FakeDiscord, TestApp) {
    let discord = FakeDiscord::start(&[DISCORD_MAIN]).await;
    let app = TestApp::spawn_with(&format!("{extra}{}", discord.config(DISCORD_MAIN))).await;
    discord.wait_ready().await;
    (discord, app)
}

fn slack_notes(slack: &FakeSlack, case: u64) -> Vec<String> {
    let card = slack.card(case).expect("the card");
    slack
        .thread(&card.ts)
        .iter()
        .map(|note| note.key().unwrap_or_default().to_string())
        .collect()
}

fn slack_card_shows(slack: &FakeSlack, case: u64, needle: &str) -> bool {
    slack
        .card(case)
        .is_some_and(|card| card.updated.is_some() && card.all_text().contains(needle))
}

fn discord_card_shows(discord: &FakeDiscord, case: u64, needle: &str) -> bool {
    discord
        .card(case)
        .is_some_and(|card| card.edits + card.updates > 0 && card.all_text().contains(needle))
}

fn discord_notes(discord: &FakeDiscord, case: u64) -> Vec<String> {
    let card = discord.card(case).expect("the card");
    discord.thread_text(&card.id)
}

fn requests(server: &FakeServer, method: &str, path: &str) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method.as_str() == method && r.path.starts_with(path))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn slack_card_updates_and_thread_notes_ride_out_every_fault_once_each() {
    let panics = panics_here();
    let (slack, app) = slack_app("").await;
    app.post(&[complaint("p1", "jo")]);
    within(LONG, "the card", || slack.card(1).is_some()).await;
    for fault in every_fault() {
        slack.server.inject("/api/chat.update", fault.clone());
        slack.server.inject("/api/chat.postMessage", fault);
    }
    claim_in_console(&app, 1).await;
    within(LONG, "the claimed card and its note", || {
        slack_card_shows(&slack, 1, "Ana") && !slack_notes(&slack, 1).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(180)).await;

    // One note, found by its key after the 503 that came after Slack had posted it.
    assert_eq!(slack_notes(&slack, 1), ["case-1-event-1"]);
    assert!(slack_card_shows(&slack, 1, "Ana"));
    let updates = requests(&slack.server, "POST", "/api/chat.update");
    assert!(
        updates.len() >= 6,
        "every fault, then the update: {}",
        updates.len()
    );
    assert!(
        wait_after_rate_limit(&updates) >= Duration::from_secs(3),
        "Retry-After honoured"
    );
    let notes = requests(&slack.server, "POST", "/api/chat.postMessage");
    assert!(notes.len() >= 6, "{}", notes.len());
    assert!(wait_after_rate_limit(&notes) >= Duration::from_secs(3));
    assert_eq!(panics_here(), panics, "nothing panicked");
}

/// What both chats must do when their API refuses connections for ten minutes while a claim
/// waits to be shown: one failure notice about `component`, nothing delivered meanwhile
/// (`delivered`), then the card and its one note (`notes`), and one recovery notice.
async fn announced_once_while_refusing(
    app: &TestApp,
    server: &FakeServer,
    component: &str,
    delivered: impl Fn() -> bool,
    notes: impl Fn() -> usize,
) {
    server.refuse_connections().await;
    claim_in_console(app, 1).await;
    let failing = wait_for_notices(app, component, 1).await;
    assert!(
        failing[0].starts_with(&format!("⚠️ {component} has been failing")),
        "{failing:?}"
    );
    // Down ten minutes: no second notice, nothing delivered, nothing lost.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(notices_about(app, component).await.len(), 1);
    assert!(!delivered(), "nothing gets through while refused");

    server.accept_connections().await;
    within(LONG, "the claimed card and its note", || {
        delivered() && notes() > 0
    })
    .await;
    let notices = wait_for_notices(app, component, 2).await;
    assert!(
        notices[1].starts_with(&format!("✅ {component} works again")),
        "{notices:?}"
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(notices_about(app, component).await.len(), 2);
    assert_eq!(notes(), 1, "one note");
}

#[tokio::test(start_paused = true)]
async fn slack_refusing_connections_is_announced_once_and_its_recovery_once() {
    let panics = panics_here();
    let (slack, app) = slack_app("health_notice_after = \"30s\"\n").await;
    app.post(&[complaint("p1", "jo")]);
    within(LONG, "the card", || slack.card(1).is_some()).await;
    announced_once_while_refusing(
        &app,
        &slack.server,
        "chat/slack",
        || slack_card_shows(&slack, 1, "Ana"),
        || slack_notes(&slack, 1).len(),
    )
    .await;
    assert_eq!(slack_notes(&slack, 1), ["case-1-event-1"]);
    assert_eq!(panics_here(), panics, "nothing panicked");
}

/// `views.open` can't wait for the outbox (the trigger id expires): each failed open tells the
/// person privately to click again, and the next click opens the form. Real time: the fake's
/// rate limit and the client's 10 s timeout are left out, the calls are what is tested.
#[tokio::test]
async fn slack_a_modal_that_cannot_open_says_so_privately_and_the_next_click_opens_it() {
    let panics = panics_here();
    let (slack, _app, reply) = slack_claimed_case().await;
    let faults = [
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        Fault::Status(503, "{\"error\":\"over capacity\"}"),
        Fault::Reset,
        Fault::Malformed,
    ];
    let failed_opens = faults.len();
    for (index, fault) in faults.into_iter().enumerate() {
        slack.server.inject("/api/views.open", fault);
        let card = slack.card(1).unwrap();
        slack.push_interactive(slack.block_action(ANA_SLACK, &card, &reply));
        within(Duration::from_secs(15), "the private 'click again'", || {
            slack.ephemerals().len() > index
        })
        .await;
    }
    assert!(slack.views().is_empty());
    for ephemeral in slack.ephemerals() {
        assert!(
            ephemeral.to_string().contains("could not open the form"),
            "{ephemeral}"
        );
        assert_eq!(ephemeral["user"], ANA_SLACK);
    }
    // Nobody listening: not even the private word gets through (logged); the next click works.
    slack.server.refuse_connections().await;
    let card = slack.card(1).unwrap();
    slack.push_interactive(slack.block_action(ANA_SLACK, &card, &reply));
    tokio::time::sleep(Duration::from_millis(500)).await;
    slack.server.accept_connections().await;
    slack.push_interactive(slack.block_action(ANA_SLACK, &card, &reply));
    within(Duration::from_secs(15), "the form", || {
        slack.views().len() == 1
    })
    .await;
    assert_eq!(slack.ephemerals().len(), failed_opens);
    assert_eq!(panics_here(), panics, "nothing panicked");
}

/// Slack with case 1 carded and claimed by Ana in the console, and its Reply publicly button.
async fn slack_claimed_case() -> (FakeSlack, TestApp, String) {
    let (slack, app) = slack_app("").await;
    app.post(&[complaint("p1", "jo")]);
    within(LONG, "the card", || slack.card(1).is_some()).await;
    claim_in_console(&app, 1).await;
    within(LONG, "the claimed card", || {
        slack_card_shows(&slack, 1, "Ana")
    })
    .await;
    let reply = reply_button(&slack);
    (slack, app, reply)
}

/// The Reply publicly button's payload on case 1's Slack card.
fn reply_button(slack: &FakeSlack) -> String {
    slack
        .card(1)
        .and_then(|card| {
            let blocks = card.current()["blocks"].to_string();
            blocks
                .split('"')
                .find(|part| part.starts_with("reply:1:"))
                .map(str::to_string)
        })
        .expect("a reply button")
}

/// A `views.open` Slack does not answer is given up after 2.5 s (not the 10 s of other calls;
/// the click's trigger lives 3 s): the click is acknowledged and the person told privately to
/// click again within the 3 s Slack gives an ack, the late answer opens nothing (the trigger
/// expired), and the next click opens the form. Paused time.
#[tokio::test(start_paused = true)]
async fn slack_a_modal_that_times_out_says_so_privately_once_the_trigger_expires() {
    let panics = panics_here();
    let (slack, _app, reply) = slack_claimed_case().await;
    slack
        .server
        .inject("/api/views.open", Fault::Delay(Duration::from_secs(60)));
    slack.expire_triggers(true);
    let card = slack.card(1).unwrap();
    let clicked = tokio::time::Instant::now();
    let envelope = slack.push_interactive(slack.block_action(ANA_SLACK, &card, &reply));
    slack.ack(&envelope).await;
    let acked = tokio::time::Instant::now();
    within(LONG, "the private 'click again'", || {
        slack.ephemerals().len() == 1
    })
    .await;
    let told = requests(&slack.server, "POST", "/api/chat.postEphemeral")[0].clock;
    let opened = requests(&slack.server, "POST", "/api/views.open")[0].clock;
    // Measured from the bot's views.open (when it had the click): a loaded machine can delay
    // the click's frame on loopback while paused time moves on.
    assert!(
        told - opened >= Duration::from_millis(2500) && told - opened < TRIGGER_LIFE,
        "told {:?} after the click, {:?} after views.open",
        told - clicked,
        told - opened
    );
    assert!(
        acked - opened < TRIGGER_LIFE,
        "the click acked {:?} after views.open",
        acked - opened
    );
    let ephemeral = &slack.ephemerals()[0];
    assert!(
        ephemeral.to_string().contains("could not open the form"),
        "{ephemeral}"
    );
    assert_eq!(ephemeral["user"], ANA_SLACK);

    // The fake answers the late request after its 60 s: the trigger had expired, no form.
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert!(slack.views().is_empty(), "{:?}", slack.views());
    // Expiry off for the last click: paused time may jump while its frame is in flight.
    slack.expire_triggers(false);
    slack.push_interactive(slack.block_action(ANA_SLACK, &card, &reply));
    within(LONG, "the form", || slack.views().len() == 1).await;
    assert_eq!(slack.ephemerals().len(), 1, "told once");
    assert_eq!(panics_here(), panics, "nothing panicked");
}

#[tokio::test(start_paused = true)]
async fn discord_card_edits_and_thread_notes_ride_out_every_fault_once_each() {
    let panics = panics_here();
    let (discord, app) = discord_app("").await;
    app.post(&[complaint("p1", "jo")]);
    within(LONG, "the card", || discord.card(1).is_some()).await;
    for fault in every_fault() {
        discord
            .server
            .inject_on(Method::PATCH, "/api/v10/channels/", fault.clone());
        discord.server.inject_post("/api/v10/channels/", fault);
    }
    claim_in_console(&app, 1).await;
    within(LONG, "the claimed card and its note", || {
        discord_card_shows(&discord, 1, "Ana") && !discord_notes(&discord, 1).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(180)).await;

    let notes = discord_notes(&discord, 1);
    assert_eq!(notes.len(), 1, "one note: {notes:?}");
    assert!(notes[0].contains("Claimed by Ana"), "{notes:?}");
    let card = discord.card(1).unwrap();
    assert_eq!(discord.thread(&card.id).len(), 1, "one thread note");
    let edits = requests(&discord.server, "PATCH", "/api/v10/channels/");
    let all: Vec<String> = discord
        .server
        .requests()
        .iter()
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.clock))
        .collect();
    assert!(edits.len() >= 6, "every fault, then the edit: {all:#?}");
    assert_eq!(panics_here(), panics, "nothing panicked");
}

#[tokio::test(start_paused = true)]
async fn discord_refusing_connections_is_announced_once_and_its_recovery_once() {
    let panics = panics_here();
    let (discord, app) = discord_app("health_notice_after = \"30s\"\n").await;
    app.post(&[complaint("p1", "jo")]);
    within(LONG, "the card", || discord.card(1).is_some()).await;
    announced_once_while_refusing(
        &app,
        &discord.server,
        "chat/discord",
        || discord_card_shows(&discord, 1, "Ana"),
        || discord_notes(&discord, 1).len(),
    )
    .await;
    assert_eq!(panics_here(), panics, "nothing panicked");
}

/// A click whose answer (the interaction callback) fails still counts, and the card shows it:
/// the outbox edits it, since the answer that would have shown the new card was lost. Claims
/// and unclaims alternate, so the thread gets notes that say the same thing as earlier ones:
/// each is still posted once (a note whose first post failed is looked up by its text, and
/// only a message newer than the case's last recorded note counts).
#[tokio::test(start_paused = true)]
async fn discord_a_lost_click_answer_still_gets_the_card_updated() {
    let panics = panics_here();
    let (discord, app) = discord_app("").await;
    app.post(&[complaint("p1", "jo")]);
    within(LONG, "the card", || discord.card(1).is_some()).await;
    let faults = [
        Fault::Status(503, "{\"message\":\"upstream\",\"code\":0}"),
        Fault::Reset,
        Fault::Malformed,
        Fault::Status(503, "{\"message\":\"upstream\",\"code\":0}").after_acting(),
        Fault::RateLimited {
            retry_after_secs: 3,
        },
        Fault::Delay(Duration::from_secs(60)),
    ];
    let clicks = faults.len();
    for (index, fault) in faults.into_iter().enumerate() {
        let (verb, claimed) = if index % 2 == 0 {
            ("claim", true)
        } else {
            ("unclaim", false)
        };
        discord.server.inject_post("/api/v10/interactions/", fault);
        let card = discord.card(1).unwrap();
        discord.push_interaction(discord.click(ANA_DISCORD, &card, &card.button(verb)));
        let expected_edits = index as u32 + 1;
        within(LONG, &format!("the card after {verb}"), || {
            discord.card(1).is_some_and(|card| {
                card.edits >= expected_edits && card.all_text().contains("owner Ana") == claimed
            })
        })
        .await;
    }
    // Nobody listening for the answer (nor for the outbox's edit, until it listens again).
    discord.server.refuse_connections().await;
    let card = discord.card(1).unwrap();
    discord.push_interaction(discord.click(ANA_DISCORD, &card, &card.button("claim")));
    tokio::time::sleep(Duration::from_secs(30)).await;
    discord.server.accept_connections().await;
    let clicks = clicks + 1;
    within(LONG, "the card after the last claim", || {
        discord.card(1).is_some_and(|card| {
            card.edits >= clicks as u32 && card.all_text().contains("owner Ana")
        })
    })
    .await;

    let messages = app.messages("mentions").await;
    let case = crate::helpers::card_of(&messages, 1).unwrap();
    assert_eq!(
        case["card"]["state"], "claimed",
        "four claims, three unclaims: {case}"
    );
    let noted = || discord_notes(&discord, 1);
    within(LONG, &format!("a note per click, {:?}", noted()), || {
        noted().len() >= clicks
    })
    .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let notes = discord_notes(&discord, 1);
    assert_eq!(notes.len(), clicks, "one note per click: {notes:?}");
    assert_eq!(panics_here(), panics, "nothing panicked");
}

/// A card Slack refuses for good (`message_not_found`: deleted by someone) is set aside after
/// its attempts; meanwhile the next case's card is updated at once, not after it.
#[tokio::test(start_paused = true)]
async fn slack_a_card_refused_for_good_does_not_hold_up_the_other_cases() {
    let panics = panics_here();
    let (slack, app) = slack_app("").await;
    app.post(&[complaint("p1", "jo"), complaint("p2", "kim")]);
    within(LONG, "two cards", || {
        slack.card(1).is_some() && slack.card(2).is_some()
    })
    .await;
    let first = slack.card(1).unwrap();
    slack.forget(&first.ts);
    claim_in_console(&app, 1).await;
    claim_in_console(&app, 2).await;
    within(LONG, "case 2's card updated", || {
        slack_card_shows(&slack, 2, "Ana")
    })
    .await;
    let updates = requests(&slack.server, "POST", "/api/chat.update");
    let refused: Vec<&Recorded> = updates
        .iter()
        .filter(|update| update.json()["ts"] == first.ts.as_str())
        .collect();
    let second = updates
        .iter()
        .find(|update| update.json()["ts"] != first.ts.as_str())
        .expect("case 2's update");
    assert!(
        !refused.is_empty() && second.clock - refused[0].clock < Duration::from_millis(500),
        "case 2 waited for case 1's retries: {:?}",
        second.clock - refused[0].clock
    );
    // Case 1's update is set aside after three attempts, and nothing else is held up.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let refused = requests(&slack.server, "POST", "/api/chat.update")
        .into_iter()
        .filter(|update| update.json()["ts"] == first.ts.as_str())
        .count();
    assert_eq!(refused, 3, "tried three times, then set aside");
    assert_eq!(panics_here(), panics, "nothing panicked");
}
