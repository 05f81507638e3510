//! The store against a real sled database in a temporary directory.

use chrono::{DateTime, TimeZone, Utc};
use sled::transaction::ConflictableTransactionError;

use super::*;
use crate::domain::{
    Author, CaseState, EventKind, Label, Mention, MentionKind, Network, PostRef, Triage,
};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn mention(network: Network, post_id: &str, author_id: &str) -> Mention {
    Mention {
        network,
        source: "main".to_string(),
        id: post_id.to_string(),
        url: format!("https://example.social/{post_id}"),
        author: Author {
            id: author_id.to_string(),
            handle: format!("{author_id}.example.social"),
            display_name: None,
            followers: None,
        },
        text: "my order never arrived".to_string(),
        created_at: at(),
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: None,
        from_brand: false,
        raw: None,
    }
}

fn triage() -> Triage {
    Triage {
        label: Label::Complaint,
        score: 0.9,
        reason: "never arrived".to_string(),
    }
}

/// A case opened by `author_id` on `network`, with its opening event.
pub(super) fn opened(id: u64, network: Network, author_id: &str) -> (Case, Vec<CaseEvent>) {
    let transition = Case::open(
        CaseId(id),
        mention(network, &format!("post-{id}"), author_id),
        triage(),
        at(),
    );
    (transition.case, transition.events)
}

fn event(case: u64, seq: u32) -> CaseEvent {
    CaseEvent {
        case: CaseId(case),
        seq,
        at: at(),
        kind: EventKind::Reopened { by: None },
    }
}

fn entry(case: u64, task: OutboxTask) -> OutboxEntry {
    OutboxEntry {
        case: CaseId(case),
        task,
        attempts: 0,
        last_error: None,
        created_at: at(),
    }
}

fn abort<T>() -> Result<T, TxError> {
    Err(ConflictableTransactionError::Abort(StoreError::Codec {
        tree: "test",
        message: "abort".to_string(),
    }))
}

/// Stores a new case the way the pipeline does: number, case, events, post.
pub(super) fn store_case(store: &Store, network: Network, author_id: &str) -> Case {
    store
        .transact(|tx| {
            let id = tx.next_case_id()?;
            let (case, events) = opened(id.0, network, author_id);
            tx.put_case(&case)?;
            tx.append_events(&events)?;
            tx.put_post(&case.opening.post_ref(), &StoredPost::opening_of(&case))?;
            Ok(case)
        })
        .unwrap()
}

fn lane(store: &Store, lane: &str) -> Vec<OutboxEntry> {
    store
        .outbox_lane(lane, 100)
        .unwrap()
        .into_iter()
        .map(|(_, entry)| entry)
        .collect()
}

#[tokio::test]
async fn data_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = {
        let store = Store::open(dir.path()).unwrap();
        let first = store_case(&store, Network::Bluesky, "jo");
        let second = store_case(&store, Network::X, "sam");
        store
            .transact(|tx| {
                tx.set_cursor("bsky-main", "cursor-42")?;
                tx.enqueue("cards", &entry(1, OutboxTask::SyncCard))?;
                tx.put_label(
                    &first.opening.post_ref(),
                    &LabelRecord {
                        text: "my order never arrived".to_string(),
                        label: Label::Complaint,
                        by: "slack:U-ana".to_string(),
                        at: at(),
                    },
                )
            })
            .unwrap();
        store.flush().await.unwrap();
        (first, second)
    };

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.case(CaseId(1)).unwrap(), Some(first.clone()));
    let cases: Vec<Case> = store.cases().collect::<Result<_, _>>().unwrap();
    assert_eq!(cases, vec![first.clone(), second]);
    assert_eq!(store.events(CaseId(1)).unwrap().len(), 1);
    let post = store.post(&first.opening.post_ref()).unwrap().unwrap();
    assert_eq!(
        (post.case, post.origin),
        (Some(CaseId(1)), PostOrigin::Customer)
    );
    assert_eq!(store.post_count(), 2);
    assert_eq!(
        store.cursor("bsky-main").unwrap().as_deref(),
        Some("cursor-42")
    );
    assert_eq!(store.cursor("other").unwrap(), None);
    assert_eq!(lane(&store, "cards"), vec![entry(1, OutboxTask::SyncCard)]);
    let labels: Vec<LabelRecord> = store.labels().collect::<Result<_, _>>().unwrap();
    assert_eq!(labels.len(), 1);
}

#[test]
fn a_store_from_a_newer_mentiondesk_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A fresh store records this build's schema version, and opens again.
    drop(Store::open(dir.path()).unwrap());
    drop(Store::open(dir.path()).unwrap());
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree("meta").unwrap();
        let stored = meta.get(codec::SCHEMA_KEY).unwrap().unwrap();
        assert_eq!(codec::decode_u32(&stored), SCHEMA_VERSION);
        meta.insert(codec::SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    match Store::open(dir.path()) {
        Err(StoreError::NewerSchema {
            path,
            found,
            supported,
        }) => {
            assert_eq!(path, dir.path().display().to_string());
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn an_aborted_transaction_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let result: Result<(), StoreError> = store.transact(|tx| {
        let id = tx.next_case_id()?;
        let (case, events) = opened(id.0, Network::Bluesky, "jo");
        tx.put_case(&case)?;
        tx.append_events(&events)?;
        tx.set_cursor("bsky-main", "cursor-1")?;
        tx.enqueue("cards", &entry(id.0, OutboxTask::SyncCard))?;
        // Reads inside the transaction see its own writes.
        assert_eq!(tx.case(id)?, Some(case));
        abort()
    });
    assert!(
        matches!(result, Err(StoreError::Codec { tree: "test", .. })),
        "{result:?}"
    );
    assert_eq!(store.case(CaseId(1)).unwrap(), None);
    assert_eq!(store.events(CaseId(1)).unwrap(), vec![]);
    assert_eq!(store.cursor("bsky-main").unwrap(), None);
    assert_eq!(store.outbox_depth(), 0);
    assert_eq!(store.cases().count(), 0);
    // The aborted transaction's case number was not used up.
    assert_eq!(store.transact(|tx| tx.next_case_id()).unwrap(), CaseId(1));
}

#[tokio::test]
async fn case_numbers_are_gapless_across_aborts_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.transact(|tx| tx.next_case_id()).unwrap(), CaseId(1));
        let aborted: Result<CaseId, StoreError> = store.transact(|tx| {
            tx.next_case_id()?;
            abort()
        });
        assert!(aborted.is_err());
        let two_at_once = store
            .transact(|tx| Ok((tx.next_case_id()?, tx.next_case_id()?)))
            .unwrap();
        assert_eq!(two_at_once, (CaseId(2), CaseId(3)));
        store.flush().await.unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.transact(|tx| tx.next_case_id()).unwrap(), CaseId(4));
}

#[test]
fn outbox_lanes_are_ordered_and_separate() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let reply = entry(
        9,
        OutboxTask::PublicReply {
            reply_id: "c9-v2".to_string(),
        },
    );
    store
        .transact(|tx| {
            tx.enqueue("cards", &entry(1, OutboxTask::SyncCard))?;
            tx.enqueue("replies", &reply)?;
            tx.enqueue("cards", &entry(2, OutboxTask::ThreadNote { seq: 0 }))?;
            tx.enqueue("card", &entry(4, OutboxTask::SyncCard))
        })
        .unwrap();
    store
        .transact(|tx| {
            tx.enqueue(
                "cards",
                &entry(
                    3,
                    OutboxTask::EscalationCard {
                        target: "billing".to_string(),
                    },
                ),
            )
        })
        .unwrap();

    let cases = |lane_name: &str| -> Vec<u64> {
        lane(&store, lane_name)
            .iter()
            .map(|entry| entry.case.0)
            .collect()
    };
    assert_eq!(cases("cards"), vec![1, 2, 3]);
    assert_eq!(lane(&store, "replies"), vec![reply]);
    // A lane whose name is a prefix of another lane's is still its own lane.
    assert_eq!(cases("card"), vec![4]);
    assert_eq!(cases("nothing"), Vec::<u64>::new());
    assert_eq!(store.outbox_depth(), 5);
    let first_two = store.outbox_lane("cards", 2).unwrap();
    assert_eq!(
        first_two
            .iter()
            .map(|(_, entry)| entry.case.0)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );

    // A failed attempt is recorded in place; the entry keeps its position.
    let (first_key, first_entry) = first_two[0].clone();
    let retried = OutboxEntry {
        attempts: 1,
        last_error: Some("429".to_string()),
        ..first_entry
    };
    store
        .transact(|tx| tx.update_entry(&first_key, &retried))
        .unwrap();
    assert_eq!(lane(&store, "cards")[0], retried);

    // Completing removes the entry; burying moves it to the lane's dead letters.
    store.transact(|tx| tx.complete(&first_key)).unwrap();
    assert_eq!(cases("cards"), vec![2, 3]);
    let (second_key, second_entry) = store.outbox_lane("cards", 1).unwrap().remove(0);
    store
        .transact(|tx| tx.bury(&second_key, "cards", &second_entry))
        .unwrap();
    assert_eq!(cases("cards"), vec![3]);
    assert_eq!(lane(&store, "dead/cards"), vec![second_entry]);
    assert_eq!(store.outbox_depth(), 4);
}

#[test]
fn events_come_back_in_order_per_case() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .transact(|tx| {
            // Written out of order, with sequence numbers past one byte.
            tx.append_events(&[event(1, 256), event(2, 0), event(1, 0)])?;
            tx.append_events(&[event(1, 2), event(1, 1), event(256, 0)])
        })
        .unwrap();
    let seqs = |case: u64| -> Vec<u32> {
        store
            .events(CaseId(case))
            .unwrap()
            .iter()
            .map(|event| event.seq)
            .collect()
    };
    assert_eq!(seqs(1), vec![0, 1, 2, 256]);
    assert_eq!(seqs(2), vec![0]);
    assert_eq!(seqs(256), vec![0]);
    assert_eq!(seqs(3), Vec::<u32>::new());
    assert_eq!(store.event(CaseId(1), 2).unwrap(), Some(event(1, 2)));
    assert_eq!(store.event(CaseId(1), 3).unwrap(), None);
}

#[tokio::test]
async fn chat_values_are_kept_per_chat_and_key() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.chat_put("console", "msg/2", b"two").await.unwrap();
        store.chat_put("console", "msg/1", b"one").await.unwrap();
        store.chat_put("console", "other/1", b"x").await.unwrap();
        store.chat_put("slack", "msg/9", b"nine").await.unwrap();
        store.chat_put("console", "msg/1", b"uno").await.unwrap();
    }
    // `chat_put` is durable on its own.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.chat_get("console", "msg/1").unwrap(),
        Some(b"uno".to_vec())
    );
    assert_eq!(store.chat_get("console", "msg/9").unwrap(), None);
    assert_eq!(
        store.chat_get("slack", "msg/9").unwrap(),
        Some(b"nine".to_vec())
    );
    assert_eq!(
        store.chat_scan("console", "msg/").unwrap(),
        vec![
            ("msg/1".to_string(), b"uno".to_vec()),
            ("msg/2".to_string(), b"two".to_vec()),
        ]
    );
    assert_eq!(store.chat_scan("console", "").unwrap().len(), 3);
    assert_eq!(store.chat_scan("discord", "").unwrap(), vec![]);
}

#[test]
fn customer_context_lists_only_earlier_cases_of_the_same_customer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = store_case(&store, Network::Bluesky, "jo");
    let someone_else = store_case(&store, Network::Bluesky, "sam");
    let same_id_elsewhere = store_case(&store, Network::Mastodon, "jo");
    let second = store_case(&store, Network::Bluesky, "jo");
    let third = store_case(&store, Network::Bluesky, "jo");
    let mut resolved = second.clone();
    resolved.state = CaseState::Resolved;
    store.transact(|tx| tx.put_case(&resolved)).unwrap();

    let earlier = |case: &Case| store.customer_context(case).unwrap().earlier;
    assert_eq!(earlier(&first), vec![]);
    assert_eq!(earlier(&someone_else), vec![]);
    assert_eq!(earlier(&same_id_elsewhere), vec![]);
    assert_eq!(earlier(&second), vec![(first.id, CaseState::New)]);
    assert_eq!(
        earlier(&third),
        vec![(first.id, CaseState::New), (second.id, CaseState::Resolved)]
    );
    // A case written again is listed once.
    store.transact(|tx| tx.put_case(&resolved)).unwrap();
    assert_eq!(earlier(&third).len(), 2);
    assert_eq!(
        store
            .post(&PostRef::new(Network::Bluesky, "post-1"))
            .unwrap()
            .and_then(|post| post.case),
        Some(first.id)
    );
}

#[tokio::test]
async fn counters_add_up_per_name_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let check = |name: &str, expected: u64| {
            assert_eq!(store.counter(name).unwrap(), expected, "{name}")
        };
        check("x-budget/x/2026-11/reads", 0);
        assert_eq!(
            store
                .add_to_counter("x-budget/x/2026-11/reads", 100)
                .await
                .unwrap(),
            100
        );
        assert_eq!(
            store
                .add_to_counter("x-budget/x/2026-11/reads", 7)
                .await
                .unwrap(),
            107
        );
        assert_eq!(
            store
                .add_to_counter("x-budget/x/2026-11/writes", 1)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .add_to_counter("x-budget/x/2026-12/reads", 0)
                .await
                .unwrap(),
            0
        );
        check("x-budget/x/2026-11/reads", 107);
        check("x-budget/other/2026-11/reads", 0);
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.counter("x-budget/x/2026-11/reads").unwrap(), 107);
    assert_eq!(store.counter("x-budget/x/2026-11/writes").unwrap(), 1);
    assert_eq!(
        store
            .add_to_counter("x-budget/x/2026-11/reads", u64::MAX)
            .await
            .unwrap(),
        u64::MAX,
        "saturates instead of wrapping"
    );
}

/// Stores a case opened `minutes` after `at()`, in `state`.
fn store_case_at(store: &Store, minutes: i64, state: CaseState) -> Case {
    store
        .transact(|tx| {
            let id = tx.next_case_id()?;
            let (mut case, events) = opened(id.0, Network::Mastodon, "kim");
            case.opened_at = at() + chrono::Duration::minutes(minutes);
            case.state = state;
            tx.put_case(&case)?;
            tx.append_events(&events)?;
            Ok(case)
        })
        .unwrap()
}

fn ids(cases: impl Iterator<Item = Result<Case, StoreError>>) -> Vec<u64> {
    cases.map(|case| case.unwrap().id.0).collect()
}

#[test]
fn cases_opened_reads_a_half_open_time_range_in_opening_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Ids and opening times in different orders: the index orders by time.
    for minutes in [30, 10, 20, 40] {
        store_case_at(&store, minutes, CaseState::New);
    }
    let minute = |m: i64| at() + chrono::Duration::minutes(m);
    let table: [(i64, i64, &[u64]); 5] = [
        (0, 60, &[2, 3, 1, 4]),
        (10, 30, &[2, 3]),
        (11, 40, &[3, 1]),
        (41, 60, &[]),
        (30, 10, &[]),
    ];
    for (from, to, expected) in table {
        assert_eq!(
            ids(store.cases_opened(minute(from), minute(to))),
            expected,
            "[{from}, {to})"
        );
    }
}

#[test]
fn open_cases_reads_only_the_cases_not_closed_in_opening_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let states = [
        (30, CaseState::New),
        (10, CaseState::Resolved),
        (20, CaseState::Claimed),
        (40, CaseState::Dismissed),
        (5, CaseState::CustomerReplied),
        (50, CaseState::Replied),
    ];
    for (minutes, state) in states {
        store_case_at(&store, minutes, state);
    }
    assert_eq!(ids(store.open_cases()), vec![5, 3, 1, 6]);
    // A case closed later leaves the list; one reopened comes back.
    let mut first = store.case(CaseId(1)).unwrap().unwrap();
    first.state = CaseState::Resolved;
    store.transact(|tx| tx.put_case(&first)).unwrap();
    let mut second = store.case(CaseId(2)).unwrap().unwrap();
    second.state = CaseState::New;
    store.transact(|tx| tx.put_case(&second)).unwrap();
    assert_eq!(ids(store.open_cases()), vec![5, 2, 3, 6]);
}

#[test]
fn counters_follow_case_states_breaches_posts_and_audit_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = store_case(&store, Network::Bluesky, "jo");
    store_case(&store, Network::Bluesky, "sam");
    store_case(&store, Network::X, "lee");
    let mut claimed = first.clone();
    claimed.state = CaseState::Claimed;
    claimed.sla_breached = true;
    store.transact(|tx| tx.put_case(&claimed)).unwrap();
    // Writing the same state again moves nothing.
    store.transact(|tx| tx.put_case(&claimed)).unwrap();
    // The same post stored again is not ingested twice.
    store
        .transact(|tx| {
            tx.put_post(
                &first.opening.post_ref(),
                &StoredPost {
                    case: Some(first.id),
                    origin: PostOrigin::Customer,
                    triage: None,
                    mention: None,
                    stored_at: at(),
                },
            )
        })
        .unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(stats.cases_by_state["new"], 2);
    assert_eq!(stats.cases_by_state["claimed"], 1);
    assert_eq!(stats.cases_by_state["resolved"], 0);
    assert_eq!(stats.sla_breaches, 1);
    assert_eq!(stats.ingested["bluesky"], 2);
    assert_eq!(stats.ingested["x"], 1);
    assert!(stats.audit.is_empty());
}

#[test]
fn a_version_1_store_gets_its_index_and_counters_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store_case(&store, Network::Bluesky, "jo");
        store_case_at(&store, 5, CaseState::Resolved);
        let stats_before = store.stats().unwrap();
        assert_eq!(stats_before.cases_by_state["resolved"], 1);
        // Make it look like a store written before the index existed.
        store.cases_by_opened.clear().unwrap();
        for key in store.meta.scan_prefix(b"stat/").keys() {
            store.meta.remove(key.unwrap()).unwrap();
        }
        store
            .meta
            .insert(codec::SCHEMA_KEY, &1u32.to_be_bytes())
            .unwrap();
        store.db.flush().unwrap();
        assert_eq!(
            store
                .cases_opened(at(), at() + chrono::Duration::hours(1))
                .count(),
            0
        );
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        ids(store.cases_opened(at(), at() + chrono::Duration::hours(1))),
        [1, 2]
    );
    let stats = store.stats().unwrap();
    assert_eq!(stats.cases_by_state["new"], 1);
    assert_eq!(stats.cases_by_state["resolved"], 1);
    assert_eq!(stats.ingested["bluesky"], 1);
    let version = store.meta.get(codec::SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(codec::decode_u32(&version), SCHEMA_VERSION);
}

fn summaries(store: &Store) -> Vec<CaseSummary> {
    store
        .case_summaries(at(), at() + chrono::Duration::hours(1))
        .map(Result::unwrap)
        .collect()
}

pub(super) fn claim(store: &Store, case: &Case, minutes: i64) -> (Case, Vec<CaseEvent>) {
    let transition = crate::domain::apply(
        case,
        crate::domain::Command::Claim {
            by: crate::domain::Agent::new("console:ana", "Ana"),
        },
        at() + chrono::Duration::minutes(minutes),
    )
    .unwrap();
    store
        .transact(|tx| {
            tx.put_case(&transition.case)?;
            tx.append_events(&transition.events)
        })
        .unwrap();
    (transition.case, transition.events)
}

#[test]
fn the_index_keeps_each_case_summary_in_step_with_the_case_and_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let case = store_case(&store, Network::X, "jo");
    assert_eq!(summaries(&store), [CaseSummary::of(&case, &[])]);
    let (claimed, events) = claim(&store, &case, 5);
    let after = summaries(&store);
    assert_eq!(after, [CaseSummary::of(&claimed, &events)]);
    assert_eq!(after[0].state, CaseState::Claimed);
    assert_eq!(after[0].claims.len(), 1);
    // A later write of the case keeps what the events gave the summary.
    let mut resolved = claimed.clone();
    resolved.state = CaseState::Resolved;
    store.transact(|tx| tx.put_case(&resolved)).unwrap();
    let after = summaries(&store);
    assert_eq!(after[0].state, CaseState::Resolved);
    assert_eq!(after[0].claims, CaseSummary::of(&claimed, &events).claims);
    // The counters moved once per change.
    let stats = store.stats().unwrap();
    assert_eq!(stats.cases_by_state["new"], 0);
    assert_eq!(stats.cases_by_state["claimed"], 0);
    assert_eq!(stats.cases_by_state["resolved"], 1);
}

#[test]
fn a_version_2_store_gets_case_summaries_from_cases_and_events_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let store = Store::open(dir.path()).unwrap();
        let case = store_case(&store, Network::X, "jo");
        let (claimed, _) = claim(&store, &case, 5);
        let expected = CaseSummary::of(&claimed, &store.events(claimed.id).unwrap());
        assert_eq!(expected.claims.len(), 1);
        // Make it look like a version 2 store: index values of two bytes (state and SLA
        // flag), no summary.
        for item in store.cases_by_opened.iter() {
            let (key, value) = item.unwrap();
            store
                .cases_by_opened
                .insert(key, value[..2].to_vec())
                .unwrap();
        }
        store
            .meta
            .insert(codec::SCHEMA_KEY, &2u32.to_be_bytes())
            .unwrap();
        store.db.flush().unwrap();
        expected
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(summaries(&store), [expected]);
    // A version 2 store's counters are kept as they were.
    let stats = store.stats().unwrap();
    assert_eq!(stats.cases_by_state["claimed"], 1);
    assert_eq!(stats.ingested["x"], 1);
    let version = store.meta.get(codec::SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(codec::decode_u32(&version), SCHEMA_VERSION);
}

/// The raw value of `key` in `tree`.
pub(super) fn raw(tree: &sled::Tree, key: &[u8]) -> Vec<u8> {
    tree.get(key).unwrap().unwrap().to_vec()
}

#[test]
fn each_big_tree_stores_compressed_values_that_read_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let case = store_case(&store, Network::Bluesky, "jo");
    let (claimed, events) = claim(&store, &case, 5);
    let all_events = store.events(case.id).unwrap();
    assert_eq!(all_events.last(), events.last());

    // A follow-up's record (the opening post's is a marker: `posts_tests.rs`).
    let follow_up = mention(Network::Bluesky, "post-2", "jo");
    let follow_up_record = StoredPost {
        case: Some(case.id),
        origin: PostOrigin::Customer,
        triage: None,
        mention: Some(follow_up.clone()),
        stored_at: at(),
    };
    store
        .transact(|tx| tx.put_post(&follow_up.post_ref(), &follow_up_record))
        .unwrap();
    let case_bytes = raw(&store.cases, &codec::case_key(case.id));
    let post_bytes = raw(&store.posts, &codec::post_key(&follow_up.post_ref()));
    let event_bytes = raw(&store.events, &codec::event_key(case.id, 1));
    let index_bytes = raw(
        &store.cases_by_opened,
        &codec::opened_key(case.opened_at.timestamp_millis(), case.id),
    );
    for frame in [
        &case_bytes[..],
        &post_bytes,
        &event_bytes,
        codec::opened_summary(&index_bytes),
    ] {
        assert!(compress::is_compressed(frame), "{frame:?}");
        let id = zstd::zstd_safe::get_dict_id_from_frame(frame).map(|id| id.get());
        assert_eq!(id, Some(compress::DICTIONARY_ID));
    }
    let case_json = serde_json::to_vec(&claimed).unwrap();
    assert!(case_bytes.len() < case_json.len());

    assert_eq!(store.case(case.id).unwrap(), Some(claimed.clone()));
    assert_eq!(
        store.post(&follow_up.post_ref()).unwrap(),
        Some(follow_up_record)
    );
    assert_eq!(
        store.event(case.id, 0).unwrap().as_ref(),
        all_events.first()
    );
    assert_eq!(summaries(&store), [CaseSummary::of(&claimed, &all_events)]);
    // Writing an unchanged case again leaves the index value as it was (compression is
    // deterministic, so the comparison of stored bytes still works).
    store.transact(|tx| tx.put_case(&claimed)).unwrap();
    assert_eq!(
        raw(
            &store.cases_by_opened,
            &codec::opened_key(case.opened_at.timestamp_millis(), case.id)
        ),
        index_bytes
    );
}

#[test]
fn plain_json_values_written_before_compression_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (case, events) = opened(1, Network::X, "jo");
    let post = StoredPost {
        case: Some(case.id),
        origin: PostOrigin::Customer,
        triage: Some(case.triage.clone()),
        mention: Some(case.opening.clone()),
        stored_at: at(),
    };
    let summary = CaseSummary::of(&case, &events);
    let index_key = codec::opened_key(case.opened_at.timestamp_millis(), case.id);
    // As a store written before the compression holds them: plain JSON.
    store
        .cases
        .insert(codec::case_key(case.id), serde_json::to_vec(&case).unwrap())
        .unwrap();
    store
        .posts
        .insert(
            codec::post_key(&case.opening.post_ref()),
            serde_json::to_vec(&post).unwrap(),
        )
        .unwrap();
    store
        .events
        .insert(
            codec::event_key(case.id, 0),
            serde_json::to_vec(&events[0]).unwrap(),
        )
        .unwrap();
    store
        .cases_by_opened
        .insert(
            index_key,
            codec::opened_value(
                case.state,
                false,
                codec::customer_hash(case.network, &case.customer.id),
                &serde_json::to_vec(&summary).unwrap(),
            ),
        )
        .unwrap();

    assert_eq!(store.case(case.id).unwrap(), Some(case.clone()));
    assert_eq!(store.post(&case.opening.post_ref()).unwrap(), Some(post));
    assert_eq!(store.events(case.id).unwrap(), events[..1]);
    assert_eq!(summaries(&store), [summary]);
    // The next write of the case stores it compressed, and keeps the summary.
    let (claimed, claim_events) = claim(&store, &case, 5);
    assert!(compress::is_compressed(&raw(
        &store.cases,
        &codec::case_key(case.id)
    )));
    assert!(compress::is_compressed(codec::opened_summary(&raw(
        &store.cases_by_opened,
        &index_key
    ))));
    let mut all_events = events[..1].to_vec();
    all_events.extend(claim_events);
    assert_eq!(summaries(&store), [CaseSummary::of(&claimed, &all_events)]);
}

#[test]
fn export_of_a_compressed_store_is_plain_json_and_import_compresses_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let store = Store::open(dir.path().join("a").as_path()).unwrap();
        let case = store_case(&store, Network::Mastodon, "jo");
        claim(&store, &case, 5);
        store.db.flush().unwrap();
        let mut dump = Vec::new();
        store.export(&mut dump).unwrap();
        dump
    };
    let text = String::from_utf8(first.clone()).unwrap();
    let mut seen = BTreeMap::new();
    for line in text.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let tree = line["tree"].as_str().unwrap().to_string();
        *seen.entry(tree.clone()).or_insert(0) += 1;
        match tree.as_str() {
            // The opening post's marker (`posts_tests.rs`) is not JSON.
            "posts" if line.get("value_hex").is_some() => {
                let bytes = hex::decode(line["value_hex"].as_str().unwrap()).unwrap();
                assert_eq!(codec::opening_post_case(&bytes), Some(CaseId(1)));
            }
            "cases" | "posts" | "events" => {
                assert!(line["value"].is_object(), "{line}");
                assert!(line.get("value_hex").is_none(), "{line}");
            }
            "cases_by_opened" => {
                let bytes = hex::decode(line["value_hex"].as_str().unwrap()).unwrap();
                assert!(codec::opened_customer(&bytes).is_some());
                let summary: CaseSummary =
                    serde_json::from_slice(codec::opened_summary(&bytes)).unwrap();
                assert_eq!(summary.claims.len(), 1);
            }
            _ => {}
        }
    }
    for tree in ["cases", "posts", "events", "cases_by_opened"] {
        assert!(seen.get(tree).is_some_and(|count| *count > 0), "{seen:?}");
    }

    let copy = dir.path().join("b");
    let count = Store::import(&copy, first.as_slice()).unwrap();
    assert_eq!(count, text.lines().count());
    let store = Store::open(&copy).unwrap();
    let case = store.case(CaseId(1)).unwrap().unwrap();
    assert_eq!(case.state, CaseState::Claimed);
    assert!(compress::is_compressed(&raw(
        &store.cases,
        &codec::case_key(case.id)
    )));
    assert!(compress::is_compressed(codec::opened_summary(&raw(
        &store.cases_by_opened,
        &codec::opened_key(case.opened_at.timestamp_millis(), case.id)
    ))));
    assert_eq!(summaries(&store)[0].claims.len(), 1);
    let mut second = Vec::new();
    store.export(&mut second).unwrap();
    assert_eq!(String::from_utf8(second).unwrap(), text);
}

#[test]
fn a_corrupt_compressed_value_is_a_codec_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let case = store_case(&store, Network::X, "jo");
    let key = codec::case_key(case.id);
    let good = raw(&store.cases, &key);
    let mut other_dictionary = good.clone();
    // The frame header: magic (4 bytes), descriptor (1), then the dictionary id (2 bytes,
    // little-endian: a single-segment frame has no window descriptor).
    assert_eq!(
        u16::from_le_bytes([good[5], good[6]]) as u32,
        compress::DICTIONARY_ID
    );
    other_dictionary[5] ^= 0x01;
    let corrupt = [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("another dictionary", other_dictionary),
        ("only the magic", vec![0x28, 0xB5, 0x2F, 0xFD]),
        ("garbage after the header", {
            let mut bytes = good[..7].to_vec();
            bytes.extend_from_slice(&[0xFF; 12]);
            bytes
        }),
    ];
    for (what, bytes) in corrupt {
        store.cases.insert(key, bytes).unwrap();
        match store.case(case.id) {
            Err(StoreError::Codec { tree, message }) => {
                assert_eq!(tree, "cases", "{what}");
                assert!(!message.is_empty(), "{what}");
            }
            other => panic!("{what}: expected a codec error, got {other:?}"),
        }
        let scanned: Vec<_> = store.cases().collect();
        assert!(
            matches!(scanned[..], [Err(StoreError::Codec { .. })]),
            "{what}"
        );
    }
    // Flipped bytes inside the frame never panic: an error, or (a flipped literal) another
    // text that still reads.
    for index in 7..good.len() {
        let mut flipped = good.clone();
        flipped[index] ^= 0x5A;
        store.cases.insert(key, flipped).unwrap();
        match store.case(case.id) {
            Ok(_) | Err(StoreError::Codec { .. }) => {}
            other => panic!("byte {index}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn outbox_entries_tell_whether_an_earlier_run_queued_them() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .transact(|tx| tx.enqueue("chat/slack", &entry(1, OutboxTask::SyncCard)))
            .unwrap();
        let (key, _) = store.outbox_lane("chat/slack", 10).unwrap().remove(0);
        assert!(!store.queued_by_an_earlier_run(&key), "queued by this run");
        store.flush().await.unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    store
        .transact(|tx| tx.enqueue("chat/slack", &entry(2, OutboxTask::SyncCard)))
        .unwrap();
    let entries = store.outbox_lane("chat/slack", 10).unwrap();
    let earlier: Vec<(u64, bool)> = entries
        .iter()
        .map(|(key, entry)| (entry.case.0, store.queued_by_an_earlier_run(key)))
        .collect();
    assert_eq!(earlier, [(1, true), (2, false)]);
}

/// Posts of every key kind: Bluesky URIs with a TID rkey and without, Mastodon and X ids,
/// a test id.
fn rekey_posts() -> Vec<PostRef> {
    // Written by authors in the opposite order of their TIDs.
    let mut posts: Vec<PostRef> = ["e", "d", "c", "b", "a"]
        .iter()
        .enumerate()
        .map(|(n, last)| {
            PostRef::new(
                Network::Bluesky,
                format!("at://did:plc:author{n}/app.bsky.feed.post/3lbqxw4ezwk2{last}"),
            )
        })
        .collect();
    posts.push(PostRef::new(
        Network::Bluesky,
        "at://did:plc:jo/app.bsky.feed.post/p1",
    ));
    posts.push(PostRef::new(Network::Mastodon, "115000000000065537"));
    posts.push(PostRef::new(Network::Mastodon, "9"));
    posts.push(PostRef::new(Network::X, "2000000000001000003"));
    posts.push(PostRef::new(Network::X, "m1"));
    posts
}

/// A store at schema 3: every post of [`rekey_posts`] stored (a case's opening post, a
/// customer's and our own) and labelled, then its `posts` and `labels` keys rewritten in the
/// schema 3 form (network NUL id). Returns the stats before.
fn schema_3_store(store: &Store) -> StoreStats {
    store_case(store, Network::Bluesky, "jo");
    for (n, post) in rekey_posts().iter().enumerate() {
        store
            .transact(|tx| {
                tx.put_post(
                    post,
                    &StoredPost {
                        case: Some(CaseId(1)),
                        origin: if n % 2 == 0 {
                            PostOrigin::Customer
                        } else {
                            PostOrigin::Ours
                        },
                        triage: None,
                        mention: None,
                        stored_at: at(),
                    },
                )?;
                tx.put_label(
                    post,
                    &LabelRecord {
                        text: post.id.clone(),
                        label: Label::Complaint,
                        by: "console:ana".to_string(),
                        at: at(),
                    },
                )
            })
            .unwrap();
    }
    for tree in [&store.posts, &store.labels] {
        let items: Vec<_> = tree.iter().collect::<Result<_, _>>().unwrap();
        for (key, value) in items {
            let nul = key.iter().position(|&byte| byte == 0).unwrap();
            let post = PostRef::new(
                std::str::from_utf8(&key[..nul]).unwrap().parse().unwrap(),
                post_id_of(store, &key),
            );
            assert_eq!(codec::post_key(&post), key.to_vec());
            let mut old = key[..=nul].to_vec();
            old.extend_from_slice(post.id.as_bytes());
            tree.remove(&key).unwrap();
            tree.insert(old, value).unwrap();
        }
    }
    store
        .meta
        .insert(codec::SCHEMA_KEY, &3u32.to_be_bytes())
        .unwrap();
    store.db.flush().unwrap();
    store.stats().unwrap()
}

/// The id of the post of a schema 4 key (found among [`rekey_posts`] and the case's post).
fn post_id_of(store: &Store, key: &[u8]) -> String {
    let case = store.case(CaseId(1)).unwrap().unwrap();
    rekey_posts()
        .into_iter()
        .chain([case.opening.post_ref()])
        .find(|post| codec::post_key(post) == key)
        .map(|post| post.id)
        .unwrap()
}

fn assert_rekeyed(store: &Store, stats_before: &StoreStats) {
    let case = store.case(CaseId(1)).unwrap().unwrap();
    let all: Vec<PostRef> = rekey_posts()
        .into_iter()
        .chain([case.opening.post_ref()])
        .collect();
    for post in &all {
        assert!(store.post(post).unwrap().is_some(), "{post:?}");
    }
    assert_eq!(store.post_count(), all.len());
    let mut labelled: Vec<String> = store.labels().map(|label| label.unwrap().text).collect();
    labelled.sort();
    let mut expected: Vec<String> = rekey_posts().into_iter().map(|post| post.id).collect();
    expected.sort();
    assert_eq!(labelled, expected);
    for tree in [&store.posts, &store.labels] {
        for key in tree.iter().keys() {
            assert_eq!(codec::rekeyed_post_key(&key.unwrap()), None);
        }
    }
    assert_eq!(&store.stats().unwrap(), stats_before);
    let version = store.meta.get(codec::SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(codec::decode_u32(&version), SCHEMA_VERSION);
}

#[test]
fn a_version_3_store_gets_its_posts_and_labels_keyed_in_time_order_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let stats = {
        let store = Store::open(dir.path()).unwrap();
        let stats = schema_3_store(&store);
        assert_eq!(stats.ingested["bluesky"], 4);
        // Under the old keys, the posts are not found.
        assert!(store.post(&rekey_posts()[0]).unwrap().is_none());
        stats
    };
    let store = Store::open(dir.path()).unwrap();
    assert_rekeyed(&store, &stats);
    // The Bluesky posts with TIDs come out in time order, whoever wrote them.
    let bluesky: Vec<_> = store
        .posts
        .scan_prefix(b"bluesky\0\x01")
        .keys()
        .map(|key| key.unwrap()[9..22].to_vec())
        .collect();
    let mut sorted = bluesky.clone();
    sorted.sort();
    assert_eq!(bluesky.len(), 5);
    assert_eq!(bluesky, sorted);
}

#[test]
fn a_rekeying_stopped_halfway_finishes_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let stats = {
        let store = Store::open(dir.path()).unwrap();
        let stats = schema_3_store(&store);
        // A crash after two batches of 3 posts and one of labels: old and new keys mixed.
        assert_eq!(rekey::post_keys_in_batches(&store.posts, 3, 2).unwrap(), 6);
        assert_eq!(rekey::post_keys_in_batches(&store.labels, 3, 1).unwrap(), 3);
        let old = |tree: &sled::Tree| {
            tree.iter()
                .keys()
                .filter(|key| codec::rekeyed_post_key(key.as_ref().unwrap()).is_some())
                .count()
        };
        assert_eq!(old(&store.posts), rekey_posts().len() + 1 - 6);
        assert_eq!(old(&store.labels), rekey_posts().len() - 3);
        store.db.flush().unwrap();
        stats
    };
    let store = Store::open(dir.path()).unwrap();
    assert_rekeyed(&store, &stats);
    // Opening again moves nothing.
    assert_eq!(rekey::post_keys(&store.posts).unwrap(), 0);
    drop(store);
    assert_rekeyed(&Store::open(dir.path()).unwrap(), &stats);
}
