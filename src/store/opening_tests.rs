//! Schema 5: a case's opening event is derived from the case, not stored (unless it differs
//! from the derivable one, or an older store holds it).

use chrono::Duration;

use super::tests::{claim, opened, store_case};
use super::*;
use crate::domain::{EventKind, Network};

/// Stores a case and its events in one transaction, case first.
fn put(store: &Store, case: &Case, events: &[CaseEvent]) {
    store
        .transact(|tx| {
            tx.put_case(case)?;
            tx.append_events(events)
        })
        .unwrap();
}

/// The sequence numbers the `events` tree holds for a case.
fn stored_seqs(store: &Store, id: CaseId) -> Vec<u32> {
    store
        .events
        .scan_prefix(codec::case_key(id))
        .values()
        .map(|value| decode::<CaseEvent>("events", &value.unwrap()).unwrap().seq)
        .collect()
}

fn events_tree_records(store: &Store) -> u64 {
    let sizes = store.tree_sizes().unwrap();
    let (_, records, _, _) = sizes.iter().find(|(name, ..)| name == "events").unwrap();
    *records
}

#[test]
fn a_new_case_reads_the_events_case_open_produced_without_storing_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Numbered past what `store_case` takes below.
    let (case, opening) = opened(100, Network::Bluesky, "jo");
    put(&store, &case, &opening);
    assert_eq!(stored_seqs(&store, case.id), Vec::<u32>::new());
    assert_eq!(events_tree_records(&store), 0);
    assert_eq!(store.events(case.id).unwrap(), opening);
    assert_eq!(store.event(case.id, 0).unwrap().as_ref(), opening.first());

    let (_, claimed) = claim(&store, &case, 5);
    assert_eq!(store.events(case.id).unwrap(), [opening, claimed].concat());
    assert_eq!(stored_seqs(&store, case.id), [1]);
    assert_eq!(events_tree_records(&store), 1);
    assert_eq!(store.event(case.id, 2).unwrap(), None);

    // The way the pipeline stores a case (number, case, events, post) too.
    let second = store_case(&store, Network::X, "sam");
    assert_eq!(
        store.events(second.id).unwrap(),
        [CaseEvent::opening_of(&second)]
    );
    assert_eq!(stored_seqs(&store, second.id), Vec::<u32>::new());
    // No case, no event.
    assert_eq!(store.events(CaseId(99)).unwrap(), vec![]);
    assert_eq!(store.event(CaseId(99), 0).unwrap(), None);
}

/// A change to an opening event.
type Change = fn(&mut CaseEvent);

#[test]
fn an_opening_event_that_differs_from_the_derivable_one_is_stored_and_read_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let changes: [(&str, Change); 5] = [
        ("time", |event| event.at += Duration::seconds(1)),
        ("url", |event| {
            if let EventKind::Opened { url, .. } = &mut event.kind {
                url.push_str("?ref=elsewhere");
            }
        }),
        ("handle", |event| {
            if let EventKind::Opened { author_handle, .. } = &mut event.kind {
                author_handle.push('x');
            }
        }),
        ("score", |event| {
            if let EventKind::Opened { score, .. } = &mut event.kind {
                *score = 0.5;
            }
        }),
        ("kind", |event| {
            event.kind = EventKind::Reopened { by: None }
        }),
    ];
    for (index, (what, change)) in changes.into_iter().enumerate() {
        let (case, mut events) = opened(index as u64 + 1, Network::Mastodon, "jo");
        change(&mut events[0]);
        assert_ne!(events[0], CaseEvent::opening_of(&case), "{what}");
        put(&store, &case, &events);
        assert_eq!(stored_seqs(&store, case.id), [0], "{what}");
        assert_eq!(store.events(case.id).unwrap(), events, "{what}");
        assert_eq!(store.event(case.id, 0).unwrap().as_ref(), events.first());
    }
    // An opening event appended while its case is not (yet) stored is written too.
    let (case, events) = opened(9, Network::X, "sam");
    store.transact(|tx| tx.append_events(&events)).unwrap();
    assert_eq!(stored_seqs(&store, case.id), [0]);
    store.transact(|tx| tx.put_case(&case)).unwrap();
    assert_eq!(store.events(case.id).unwrap(), events);
}

#[test]
fn an_older_store_s_stored_opening_events_read_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (exact, different) = {
        let store = Store::open(dir.path()).unwrap();
        // As schema 4 wrote them: every opening event stored, compressed.
        let stored = |case: &Case, event: &CaseEvent| {
            store.transact(|tx| tx.put_case(case)).unwrap();
            store
                .events
                .insert(
                    codec::event_key(case.id, 0),
                    encode("events", event).unwrap(),
                )
                .unwrap();
        };
        let (first, exact) = opened(1, Network::Bluesky, "jo");
        stored(&first, &exact[0]);
        let (second, mut different) = opened(2, Network::Bluesky, "sam");
        different[0].at -= Duration::milliseconds(3);
        stored(&second, &different[0]);
        store
            .meta
            .insert(codec::SCHEMA_KEY, &4u32.to_be_bytes())
            .unwrap();
        store.db.flush().unwrap();
        (exact, different)
    };
    let store = Store::open(dir.path()).unwrap();
    let version = store.meta.get(codec::SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(codec::decode_u32(&version), SCHEMA_VERSION);
    assert_eq!(store.events(CaseId(1)).unwrap(), exact);
    assert_eq!(store.events(CaseId(2)).unwrap(), different);
    assert_eq!(
        store.event(CaseId(2), 0).unwrap().as_ref(),
        different.first()
    );
    // Nothing was deleted.
    assert_eq!(stored_seqs(&store, CaseId(1)), [0]);
    assert_eq!(stored_seqs(&store, CaseId(2)), [0]);
    // A later event goes after the stored one.
    let case = store.case(CaseId(1)).unwrap().unwrap();
    let (_, claimed) = claim(&store, &case, 5);
    assert_eq!(store.events(CaseId(1)).unwrap(), [exact, claimed].concat());
}

#[test]
fn export_then_import_reads_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let (dump, before) = {
        let store = Store::open(dir.path().join("a").as_path()).unwrap();
        let case = store_case(&store, Network::Mastodon, "jo");
        claim(&store, &case, 5);
        let (explicit, mut events) = opened(2, Network::X, "sam");
        events[0].at += Duration::seconds(1);
        put(&store, &explicit, &events);
        let before = [
            store.events(case.id).unwrap(),
            store.events(explicit.id).unwrap(),
        ];
        assert_eq!(before[0].len(), 2);
        assert_eq!(before[1], events);
        let mut dump = Vec::new();
        store.export(&mut dump).unwrap();
        (dump, before)
    };
    let copy = dir.path().join("b");
    Store::import(&copy, dump.as_slice()).unwrap();
    let store = Store::open(&copy).unwrap();
    assert_eq!(
        [
            store.events(CaseId(1)).unwrap(),
            store.events(CaseId(2)).unwrap()
        ],
        before
    );
    // The claim and the explicit opening event: case 1's opening stays implicit.
    assert_eq!(events_tree_records(&store), 2);
}

#[test]
fn a_case_written_twice_in_one_transaction_is_judged_by_its_last_version() {
    let store = Store::temporary().unwrap();
    let (case, opening) = opened(1, Network::Bluesky, "jo");
    let mut moved = case.clone();
    moved.opening.url.push_str("?moved");
    store
        .transact(|tx| {
            tx.put_case(&case)?;
            // What the store will hold: the opening event no longer derives from it.
            tx.put_case(&moved)?;
            tx.append_events(&opening)
        })
        .unwrap();
    assert_eq!(stored_seqs(&store, case.id), [0]);
    assert_eq!(store.events(case.id).unwrap(), opening);
}
