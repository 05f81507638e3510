//! First-response clocks with tokio's paused time: a warning at 75 %, "overdue" at 100 %,
//! nothing for a case the brand answered, and clocks rebuilt from the store after a restart.

use std::time::Duration;

use mentiondesk::domain::{CaseId, EventKind, Mention};
use mentiondesk::outbox::Outbox;
use mentiondesk::pipeline::{Pipeline, TriageRules, Triager};
use mentiondesk::scheduler::{Scheduler, SlaPolicy};
use mentiondesk::sources::SourceBatch;
use mentiondesk::store::Store;
use tokio_util::sync::CancellationToken;

use crate::helpers::{bsky, bsky_uri};

fn policy() -> SlaPolicy {
    SlaPolicy {
        first_response: chrono::Duration::minutes(60),
        warning_at: 0.75,
    }
}

fn mention(value: serde_json::Value) -> Mention {
    let mut mention: Mention = serde_json::from_value(value).unwrap();
    mention.source = "demo".to_string();
    mention
}

async fn ingest(pipeline: &Pipeline, mentions: Vec<Mention>) {
    let (stored, _) = tokio::sync::oneshot::channel();
    let batch = SourceBatch {
        source: "demo".to_string(),
        mentions,
        cursor: None,
        stored,
    };
    pipeline.ingest(&[batch]).await.unwrap();
}

fn sla_events(store: &Store, case: u64) -> Vec<&'static str> {
    store
        .events(CaseId(case))
        .unwrap()
        .into_iter()
        .filter_map(|event| match event.kind {
            EventKind::SlaWarning { .. } => Some("warning"),
            EventKind::SlaBreached { .. } => Some("breached"),
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
