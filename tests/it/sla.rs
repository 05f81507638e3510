//! Response clocks with tokio's paused time: a warning at 75 %, "overdue" at 100 %, nothing
//! for a case the brand answered, clocks rebuilt from the store after a restart, deadlines in
//! business time across a weekend, the next-response clock, the on-call escalation on a breach
//! and out of hours, and the repeat-customer flag on the card.

use std::time::Duration;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mentiondesk::domain::{
    apply, Agent, BusinessHours, CaseId, Command, EventKind, Mention, NoteMention,
};
use mentiondesk::outbox::Outbox;
use mentiondesk::pipeline::{Pipeline, TriageRules, Triager};
use mentiondesk::scheduler::{OnCall, Scheduler, SlaPolicy};
use mentiondesk::sources::SourceBatch;
use mentiondesk::store::{OutboxTask, Store};
use tokio_util::sync::CancellationToken;

use crate::helpers::{bsky, bsky_uri, card_of, TestApp};

fn policy() -> SlaPolicy {
    SlaPolicy::new(chrono::Duration::minutes(60), 0.75)
}

fn mention(value: serde_json::Value) -> Mention {
    let mut mention: Mention = serde_json::from_value(value).unwrap();
    mention.source = "demo".to_string();
    mention
}

async fn ingest(pipeline: &Pipeline, mentions: Vec<Mention>) {
    ingest_at(pipeline, mentions, Utc::now()).await;
}

async fn ingest_at(pipeline: &Pipeline, mentions: Vec<Mention>, now: DateTime<Utc>) {
    let (stored, _) = tokio::sync::oneshot::channel();
    let batch = SourceBatch {
        source: "demo".to_string(),
        mentions,
        cursor: None,
        stored,
    };
    // The store flushes on another thread: keep this runtime busy meanwhile, or paused time
    // would jump to a running scheduler's next deadline while the test waits.
    let busy = async {
        loop {
            tokio::task::yield_now().await;
        }
    };
    let round = [batch];
    tokio::select! {
        stored = pipeline.ingest_at(&round, now) => { stored.unwrap(); }
        _ = busy => {}
    }
}

fn sla_events(store: &Store, case: u64) -> Vec<&'static str> {
    store
        .events(CaseId(case))
        .unwrap()
        .into_iter()
        .filter_map(|event| match event.kind {
            EventKind::SlaWarning { .. } => Some("warning"),
            EventKind::SlaBreached { .. } => Some("breached"),
            EventKind::NextResponseWarning { .. } => Some("next warning"),
            EventKind::NextResponseBreached { .. } => Some("next breached"),
            EventKind::Escalated {
                ref by, ref target, ..
            } => {
                assert_eq!((by.name.as_str(), target.as_str()), ("SLA", "oncall"));
                Some("escalated to on-call")
            }
            _ => None,
        })
        .collect()
}

/// Lets the scheduler task run (its store flush completes on another thread) without letting
/// paused time move: the loop keeps the runtime busy, so tokio does not auto-advance.
async fn settle_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !done() && std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// Lets every task run a while (no time passes).
async fn settle() {
    for _ in 0..1000 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn warning_then_overdue_and_nothing_once_answered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let outbox = Outbox::new(&["console".to_string()], &[]);
    let scheduler = Scheduler::new(store.clone(), outbox.clone(), policy());
    let pipeline = Pipeline::new(
        store.clone(),
        Triager::new(TriageRules::default()),
        &["acme.bsky.social".to_string()],
        outbox.clone(),
    )
    .with_sla(policy(), scheduler.handle());
    ingest(
        &pipeline,
        vec![
            mention(bsky(
                "p1",
                "jo",
                "@acme my order never arrived, want a refund",
                None,
            )),
            mention(bsky(
                "p2",
                "kim",
                "@acme app is broken again, useless",
                None,
            )),
        ],
    )
    .await;
    // The brand answers Kim on the network before the warning.
    let root = bsky_uri("kim", "p2");
    ingest(
        &pipeline,
        vec![mention(bsky(
            "b1",
            "acme.bsky.social",
            "@kim so sorry, fixing it now",
            Some((&root, &root)),
        ))],
    )
    .await;
    // Started after the ingest: awaiting a flush (another thread) leaves the runtime idle, and
    // paused time would then jump straight to the scheduler's first deadline.
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(scheduler.run(shutdown.clone()));

    tokio::time::advance(Duration::from_secs(44 * 60)).await;
    settle().await;
    assert!(
        sla_events(&store, 1).is_empty(),
        "nothing before 45 minutes"
    );

    tokio::time::advance(Duration::from_secs(2 * 60)).await;
    settle_until(|| !sla_events(&store, 1).is_empty()).await;
    assert_eq!(sla_events(&store, 1), ["warning"]);
    let case = store.case(CaseId(1)).unwrap().unwrap();
    assert!(case.sla_warned && !case.sla_breached);

    tokio::time::advance(Duration::from_secs(15 * 60)).await;
    settle_until(|| sla_events(&store, 1).len() == 2).await;
    assert_eq!(sla_events(&store, 1), ["warning", "breached"]);
    assert!(
        sla_events(&store, 2).is_empty(),
        "the answered case has no clock"
    );

    let card = mentiondesk::domain::case_card(
        &store.case(CaseId(1)).unwrap().unwrap(),
        &Default::default(),
    );
    assert!(card.overdue);
    assert!(
        card.state_line.contains("first response overdue"),
        "{}",
        card.state_line
    );

    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn clocks_are_rebuilt_from_the_store_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let outbox = Outbox::new(&["console".to_string()], &[]);
    {
        let before = Scheduler::new(store.clone(), outbox.clone(), policy());
        let pipeline = Pipeline::new(
            store.clone(),
            Triager::new(TriageRules::default()),
            &[],
            outbox.clone(),
        )
        .with_sla(policy(), before.handle());
        ingest(
            &pipeline,
            vec![mention(bsky(
                "p1",
                "jo",
                "@acme charged twice, refund please",
                None,
            ))],
        )
        .await;
    }
    let mut after = Scheduler::new(store.clone(), outbox.clone(), policy());
    assert_eq!(after.load().unwrap(), 2, "a warning and a breach deadline");
    let now = after.now();
    assert_eq!(after.fire_due(now).await.unwrap(), 0);
    assert_eq!(
        after
            .fire_due(now + chrono::Duration::minutes(61))
            .await
            .unwrap(),
        1,
        "a late start notes the breach only: the warning is moot"
    );
    assert_eq!(sla_events(&store, 1), ["breached"]);
    assert_eq!(after.pending(), 0);
}

/// A UTC instant from "YYYY-MM-DD HH:MM".
fn utc(text: &str) -> DateTime<Utc> {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    Utc.from_utc_datetime(&naive)
}

/// London office hours, Monday to Friday 09:00-18:00 (UTC+0 in early March).
fn london_hours() -> Arc<BusinessHours> {
    Arc::new(BusinessHours {
        timezone: jiff::tz::TimeZone::get("Europe/London").unwrap(),
        timezone_name: "Europe/London".to_string(),
        weekdays: [true, true, true, true, true, false, false],
        open: jiff::civil::Time::constant(9, 0, 0, 0),
        close: jiff::civil::Time::constant(18, 0, 0, 0),
        holidays: Default::default(),
    })
}

/// 30 minutes to answer, a warning at 75 %, London hours, breaches to "oncall".
fn office_policy() -> SlaPolicy {
    let mut policy = SlaPolicy::new(chrono::Duration::minutes(30), 0.75);
    policy.next_response = chrono::Duration::minutes(20);
    policy.business_hours = Some(london_hours());
    policy.on_call = Some(OnCall {
        id: "oncall".to_string(),
        label: "On-call engineer".to_string(),
    });
    policy
}

struct Desk {
    store: Store,
    pipeline: Pipeline,
    scheduler: Option<Scheduler>,
    _dir: tempfile::TempDir,
}

/// A store, an outbox with the console and the on-call webhook, a pipeline and a scheduler
/// whose clock starts at `start`.
fn desk(policy: SlaPolicy, start: DateTime<Utc>) -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let outbox = Outbox::new(&["console".to_string()], &[]).with_webhooks(&["oncall".to_string()]);
    let scheduler =
        Scheduler::new(store.clone(), outbox.clone(), policy.clone()).starting_at(start);
    let pipeline = Pipeline::new(
        store.clone(),
        Triager::new(TriageRules::default()),
        &["acme.bsky.social".to_string()],
        outbox,
    )
    .with_sla(policy, scheduler.handle());
    Desk {
        store,
        pipeline,
        scheduler: Some(scheduler),
        _dir: dir,
    }
}

fn claim(store: &Store, case: u64, agent: &Agent, now: DateTime<Utc>) {
    store
        .transact(|tx| {
            let case = tx.case(CaseId(case))?.unwrap();
            let transition = apply(&case, Command::Claim { by: agent.clone() }, now).unwrap();
            tx.put_case(&transition.case)?;
            tx.append_events(&transition.events)
        })
        .unwrap();
}

/// The tasks queued for `case` on a lane (outbox entries not executed: no worker runs).
fn queued(store: &Store, lane: &str, case: u64) -> Vec<OutboxTask> {
    store
        .outbox_lane(lane, 1000)
        .unwrap()
        .into_iter()
        .filter(|(_, entry)| entry.case == CaseId(case))
        .map(|(_, entry)| entry.task)
        .collect()
}

fn escalation_tasks(store: &Store, case: u64) -> (usize, usize) {
    let cards = queued(store, "chat/console", case)
        .into_iter()
        .filter(|task| matches!(task, OutboxTask::EscalationCard { target } if target == "oncall"))
        .count();
    let webhooks = queued(store, "webhook", case)
        .into_iter()
        .filter(|task| matches!(task, OutboxTask::Webhook { target } if target == "oncall"))
        .count();
    (cards, webhooks)
}

/// Moves paused time by `minutes` and lets the scheduler record what fell due.
async fn pass(minutes: i64, store: &Store, case: u64, expected: usize) {
    tokio::time::advance(Duration::from_secs(minutes as u64 * 60)).await;
    settle_until(|| sla_events(store, case).len() >= expected).await;
    settle().await;
}

fn warning_mention(store: &Store, case: u64) -> Option<NoteMention> {
    store
        .events(CaseId(case))
        .unwrap()
        .into_iter()
        .find(|event| {
            matches!(
                event.kind,
                EventKind::SlaWarning { .. } | EventKind::NextResponseWarning { .. }
            )
        })
        .and_then(|event| event.note().mention)
}

#[tokio::test(start_paused = true)]
async fn a_friday_evening_case_is_due_monday_morning_and_its_breach_goes_to_on_call_once() {
    // Friday 2026-03-06 17:50 in London: ten business minutes left that day.
    let friday = utc("2026-03-06 17:50");
    let mut desk = desk(office_policy(), friday);
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "p1",
            "jo",
            "@acme my order never arrived, want a refund",
            None,
        ))],
        friday,
    )
    .await;
    let case = desk.store.case(CaseId(1)).unwrap().unwrap();
    assert_eq!(case.first_response_due, Some(utc("2026-03-09 09:20")));
    assert_eq!(
        case.first_response_warning_at,
        Some(utc("2026-03-09 09:12") + chrono::Duration::seconds(30)),
        "75 % of 30 business minutes"
    );
    assert_eq!(escalation_tasks(&desk.store, 1), (0, 0), "opened in hours");
    let ana = Agent::new("slack:U0ANA", "Ana");
    claim(&desk.store, 1, &ana, friday);

    let shutdown = CancellationToken::new();
    let task = tokio::spawn(desk.scheduler.take().unwrap().run(shutdown.clone()));
    // Friday 17:50 → Monday 09:12: the whole weekend passes without a note.
    pass(63 * 60 + 22, &desk.store, 1, 1).await;
    assert!(
        sla_events(&desk.store, 1).is_empty(),
        "{:?}",
        sla_events(&desk.store, 1)
    );

    pass(1, &desk.store, 1, 1).await; // 09:13
    assert_eq!(sla_events(&desk.store, 1), ["warning"]);
    assert_eq!(
        warning_mention(&desk.store, 1),
        Some(NoteMention::Agent {
            id: "slack:U0ANA".to_string(),
            name: "Ana".to_string()
        }),
        "the warning mentions the owner"
    );

    pass(6, &desk.store, 1, 2).await; // 09:19
    assert_eq!(sla_events(&desk.store, 1), ["warning"]);
    pass(1, &desk.store, 1, 3).await; // 09:20
    assert_eq!(
        sla_events(&desk.store, 1),
        ["warning", "breached", "escalated to on-call"]
    );
    assert_eq!(
        escalation_tasks(&desk.store, 1),
        (1, 1),
        "the normal escalation path: a linked card and the webhook"
    );
    let escalated = desk.store.case(CaseId(1)).unwrap().unwrap();
    assert_eq!(escalated.escalations.len(), 1);
    assert!(escalated.escalations[0]
        .note
        .contains("first response overdue since 2026-03-09 09:20 GMT"));
    let audit = desk.store.audit_since(utc("2026-01-01 00:00")).unwrap();
    assert!(audit
        .iter()
        .any(|record| record.case == CaseId(1)
            && record.target.as_deref() == Some("On-call engineer")));

    // The brand answers, the customer writes again, nobody answers: the next-response breach
    // is noted, but the case is not escalated a second time.
    let root = bsky_uri("jo", "p1");
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "b1",
            "acme.bsky.social",
            "@jo on it",
            Some((&root, &root)),
        ))],
        utc("2026-03-09 09:25"),
    )
    .await;
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "p2",
            "jo",
            "@acme still nothing",
            Some((&root, &root)),
        ))],
        utc("2026-03-09 09:30"),
    )
    .await;
    pass(26, &desk.store, 1, 4).await; // 09:46
    pass(5, &desk.store, 1, 5).await; // 09:51
    assert_eq!(
        sla_events(&desk.store, 1),
        [
            "warning",
            "breached",
            "escalated to on-call",
            "next warning",
            "next breached"
        ]
    );
    assert_eq!(escalation_tasks(&desk.store, 1), (1, 1), "once per case");

    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_next_response_clock_runs_from_a_follow_up_to_our_next_answer() {
    let start = utc("2026-03-04 10:00"); // a Wednesday, in hours
    let mut policy = office_policy();
    policy.on_call = None;
    let mut desk = desk(policy, start);
    let root = bsky_uri("jo", "p1");
    let post =
        |id: &str, handle: &str, text: &str| mention(bsky(id, handle, text, Some((&root, &root))));
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "p1",
            "jo",
            "@acme app is broken again, useless",
            None,
        ))],
        start,
    )
    .await;
    // Our first answer stops the first-response clock; a follow-up before it started nothing.
    ingest_at(
        &desk.pipeline,
        vec![post("b1", "acme.bsky.social", "@jo sorry!")],
        start,
    )
    .await;
    let case = desk.store.case(CaseId(1)).unwrap().unwrap();
    assert_eq!(case.next_response, None);

    let shutdown = CancellationToken::new();
    let task = tokio::spawn(desk.scheduler.take().unwrap().run(shutdown.clone()));
    pass(10, &desk.store, 1, 0).await; // 10:10
    ingest_at(
        &desk.pipeline,
        vec![post("p2", "jo", "@acme it is still broken")],
        utc("2026-03-04 10:10"),
    )
    .await;
    let clock = desk
        .store
        .case(CaseId(1))
        .unwrap()
        .unwrap()
        .next_response
        .unwrap();
    assert_eq!(
        (clock.warning_at, clock.due_at),
        (utc("2026-03-04 10:25"), utc("2026-03-04 10:30"))
    );
    let card = mentiondesk::domain::case_card(
        &desk.store.case(CaseId(1)).unwrap().unwrap(),
        &Default::default(),
    );
    assert!(
        card.state_line.contains("next response due 10:30 UTC"),
        "{}",
        card.state_line
    );

    pass(14, &desk.store, 1, 1).await; // 10:24
    assert!(sla_events(&desk.store, 1).is_empty());
    pass(1, &desk.store, 1, 1).await; // 10:25
    assert_eq!(sla_events(&desk.store, 1), ["next warning"]);
    assert_eq!(
        warning_mention(&desk.store, 1),
        Some(NoteMention::Channel),
        "nobody owns the case: the channel is mentioned"
    );
    pass(5, &desk.store, 1, 2).await; // 10:30
    assert_eq!(
        sla_events(&desk.store, 1),
        ["next warning", "next breached"]
    );
    let card = mentiondesk::domain::case_card(
        &desk.store.case(CaseId(1)).unwrap().unwrap(),
        &Default::default(),
    );
    assert!(card.overdue);

    // We answer; the customer writes again; we answer before the warning: nothing is noted.
    ingest_at(
        &desk.pipeline,
        vec![post("b2", "acme.bsky.social", "@jo fixed now")],
        utc("2026-03-04 10:31"),
    )
    .await;
    assert_eq!(
        desk.store.case(CaseId(1)).unwrap().unwrap().next_response,
        None
    );
    ingest_at(
        &desk.pipeline,
        vec![post("p3", "jo", "@acme and my data?")],
        utc("2026-03-04 10:40"),
    )
    .await;
    assert!(desk
        .store
        .case(CaseId(1))
        .unwrap()
        .unwrap()
        .next_response
        .is_some());
    pass(10, &desk.store, 1, 2).await; // 10:40
    ingest_at(
        &desk.pipeline,
        vec![post("b3", "acme.bsky.social", "@jo safe")],
        utc("2026-03-04 10:45"),
    )
    .await;
    pass(60, &desk.store, 1, 2).await;
    assert_eq!(
        sla_events(&desk.store, 1),
        ["next warning", "next breached"]
    );

    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn complaints_outside_business_hours_go_to_on_call() {
    let saturday = utc("2026-03-07 11:00");
    let desk = desk(office_policy(), saturday);
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "p1",
            "jo",
            "@acme charged twice, refund please",
            None,
        ))],
        saturday,
    )
    .await;
    let case = desk.store.case(CaseId(1)).unwrap().unwrap();
    assert_eq!(case.first_response_due, Some(utc("2026-03-09 09:30")));
    assert_eq!(case.escalations.len(), 1);
    assert_eq!(case.escalations[0].by.name, "SLA");
    let notes: Vec<String> = desk
        .store
        .events(CaseId(1))
        .unwrap()
        .iter()
        .map(|event| event.note().text)
        .collect();
    assert_eq!(
        notes[1],
        "Escalated to On-call engineer by SLA: arrived outside business hours; the team is back Mon 09 Mar 09:00 Europe/London"
    );
    assert_eq!(
        escalation_tasks(&desk.store, 1),
        (1, 1),
        "linked card and webhook"
    );
    assert!(queued(&desk.store, "chat/console", 1).contains(&OutboxTask::ThreadNote { seq: 1 }));

    // Monday morning, in hours: a new complaint waits for the team.
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "p2",
            "kim",
            "@acme app is broken again, useless",
            None,
        ))],
        utc("2026-03-09 10:00"),
    )
    .await;
    let in_hours = desk.store.case(CaseId(2)).unwrap().unwrap();
    assert!(in_hours.escalations.is_empty());
    assert_eq!(escalation_tasks(&desk.store, 2), (0, 0));
}

#[tokio::test]
async fn a_repeat_customer_is_flagged_on_the_card_with_a_link_to_the_last_case() {
    let app = TestApp::spawn_with("[customers]\nrepeat_within = \"7d\"\n").await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme my order never arrived, want a refund",
        None,
    )]);
    app.wait_for("mentions", |messages| card_of(messages, 1).is_some())
        .await;
    app.post(&[bsky("p2", "jo", "@acme charged twice, refund please", None)]);
    app.wait_for("mentions", |messages| card_of(messages, 2).is_some())
        .await;
    // Claiming case 2 and seeing its card updated means the card's place was recorded (the
    // chat lane runs in order), so case 3's card can link to it.
    let claim = app.button(2, "claim").await;
    assert_eq!(app.act("Ana", &claim, serde_json::json!({})).await.0, 200);
    app.wait_for_card(2, "claimed", 1).await;
    app.post(&[bsky("p3", "jo", "@acme app is broken again, useless", None)]);
    let messages = app
        .wait_for("mentions", |messages| card_of(messages, 3).is_some())
        .await;
    let first = card_of(&messages, 1).unwrap();
    assert!(
        first["card"]["repeat"].is_null(),
        "a first case is no repeat"
    );
    let second = card_of(&messages, 2).unwrap();
    assert_eq!(
        second["card"]["repeat"]["text"],
        "repeat customer: 2nd case in 7 days"
    );
    let third = card_of(&messages, 3).unwrap();
    assert_eq!(
        third["card"]["repeat"]["text"],
        "repeat customer: 3rd case in 7 days"
    );
    assert_eq!(third["card"]["repeat"]["last_case"], 2);
    let last_card = third["card"]["repeat"]["last_cards"]["console"]["message"].clone();
    assert_eq!(last_card, second["message_id"], "links to case 2's card");
    // The page shows the line with the link.
    let page = reqwest::get(format!(
        "{}/fragments/mentions/{}",
        app.console,
        third["message_id"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        page.contains(&format!(
            r##"repeat customer: 3rd case in 7 days · last case <a href="#msg-{}">#2</a>"##,
            last_card.as_str().unwrap()
        )),
        "{page}"
    );
}

#[tokio::test(start_paused = true)]
async fn next_response_clocks_in_business_time_survive_a_restart() {
    let wednesday = utc("2026-03-04 17:40");
    let desk = desk(office_policy(), wednesday);
    let root = bsky_uri("jo", "p1");
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "p1",
            "jo",
            "@acme app is broken again, useless",
            None,
        ))],
        utc("2026-03-04 17:00"),
    )
    .await;
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "b1",
            "acme.bsky.social",
            "@jo sorry!",
            Some((&root, &root)),
        ))],
        utc("2026-03-04 17:10"),
    )
    .await;
    ingest_at(
        &desk.pipeline,
        vec![mention(bsky(
            "p2",
            "jo",
            "@acme still broken",
            Some((&root, &root)),
        ))],
        wednesday,
    )
    .await;
    // 20 business minutes from 17:40 end at closing time, 18:00.
    let clock = desk
        .store
        .case(CaseId(1))
        .unwrap()
        .unwrap()
        .next_response
        .unwrap();
    assert_eq!(
        (clock.warning_at, clock.due_at),
        (utc("2026-03-04 17:55"), utc("2026-03-04 18:00"))
    );

    // A new process: the clock comes back from the store, and fires once, in time.
    let outbox = Outbox::new(&["console".to_string()], &[]).with_webhooks(&["oncall".to_string()]);
    let mut after = Scheduler::new(desk.store.clone(), outbox, office_policy())
        .starting_at(utc("2026-03-04 17:50"));
    assert_eq!(
        after.load().unwrap(),
        2,
        "the next-response warning and breach"
    );
    assert_eq!(after.fire_due(utc("2026-03-04 17:54")).await.unwrap(), 0);
    assert_eq!(after.fire_due(utc("2026-03-04 17:56")).await.unwrap(), 1);
    assert_eq!(after.fire_due(utc("2026-03-04 18:00")).await.unwrap(), 1);
    assert_eq!(after.pending(), 0);
    assert_eq!(
        sla_events(&desk.store, 1),
        ["next warning", "next breached", "escalated to on-call"]
    );
    let mut again = Scheduler::new(
        desk.store.clone(),
        Outbox::new(&["console".to_string()], &[]),
        office_policy(),
    );
    assert_eq!(
        again.load().unwrap(),
        0,
        "a breached clock is not watched again"
    );
}

/// The real application: a complaint out of hours goes to the on-call target through the
/// normal escalation path (its thread note, its console channel and its signed webhook).
#[tokio::test]
async fn out_of_hours_routing_end_to_end() {
    let desk = crate::fakes::tickets::start().await;
    let today = Utc::now().date_naive();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).format("%Y-%m-%d");
    let app = TestApp::spawn_with(&format!(
        r#"
[[escalations]]
id = "tickets"
label = "Ticket desk"
webhook = {{ url = "{}/hook", secret = "{}" }}

[sla]
on_call = "tickets"

[sla.business_hours]
timezone = "UTC"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
holidays = ["{}", "{}", "{}"]
"#,
        desk.base_url,
        crate::fakes::tickets::SECRET,
        day(-1),
        day(0),
        day(1),
    ))
    .await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme my order never arrived, want a refund",
        None,
    )]);
    let messages = app
        .wait_for("mentions", |m| {
            card_of(m, 1).is_some_and(|c| crate::helpers::thread_texts(c).len() >= 2)
        })
        .await;
    let notes = crate::helpers::thread_texts(card_of(&messages, 1).unwrap());
    assert!(
        notes[0].starts_with(&format!(
            "Escalated to Ticket desk by SLA: arrived outside business hours; the team is back {} 09:00 UTC",
            (today + chrono::Duration::days(2)).format("%a %d %b")
        )),
        "{notes:?}"
    );
    assert_eq!(notes[1], "Ticket desk received the hand-off: ticket opened");
    let calls = desk.requests_to("POST", "/hook");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].json()["escalated_by"], "SLA");
    assert_eq!(app.wait_for("tickets", |m| !m.is_empty()).await.len(), 1);
}

/// The real application with the fake Discord: the warning note mentions the Discord owner and
/// lets Discord ping exactly them. The warning time is moved into the past while the bot is
/// stopped (as after a night down), so the rebuilt clock fires on start without any waiting.
#[tokio::test]
async fn a_discord_warning_pings_its_owner_after_a_restart() {
    use crate::fakes::discord::{wait_until, FakeDiscord};
    const MAIN: &str = "500000000000000001";
    const ANA: (&str, &str) = ("700000000000000001", "Ana");
    let discord = FakeDiscord::start(&[MAIN]).await;
    let mut app = TestApp::spawn_with(&discord.config(MAIN)).await;
    discord.wait_ready().await;
    app.post(&[bsky(
        "p1",
        "jo",
        "@acme my order never arrived, want a refund",
        None,
    )]);
    wait_until("the card", || discord.card(1).is_some()).await;
    let card = discord.card(1).unwrap();
    let click = discord.push_interaction(discord.click(ANA, &card, &card.button("claim")));
    discord.callback(&click).await;
    wait_until("the claim", || {
        discord
            .thread_text(&card.id)
            .iter()
            .any(|note| note.contains("Claimed by Ana"))
    })
    .await;

    app.stop().await;
    {
        let store = Store::open(&app.dir.path().join("store/sled")).unwrap();
        store
            .transact(|tx| {
                let mut case = tx.case(CaseId(1))?.unwrap();
                case.first_response_warning_at = Some(Utc::now() - chrono::Duration::minutes(1));
                tx.put_case(&case)
            })
            .unwrap();
        store.flush().await.unwrap();
    }
    let _app = app.restart().await;
    wait_until("the warning", || {
        discord
            .thread_text(&card.id)
            .iter()
            .any(|note| note.contains("First response due"))
    })
    .await;
    let warning = discord
        .thread(&card.id)
        .into_iter()
        .find(|note| {
            note.body["content"]
                .to_string()
                .contains("First response due")
        })
        .unwrap();
    assert!(
        warning.body["content"]
            .as_str()
            .unwrap()
            .starts_with(&format!("<@{}> First response due at", ANA.0)),
        "{}",
        warning.body
    );
    assert_eq!(
        warning.body["allowed_mentions"]["users"],
        serde_json::json!([ANA.0])
    );
    assert_eq!(
        warning.body["allowed_mentions"]["roles"],
        serde_json::json!([])
    );
}
