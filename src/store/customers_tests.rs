//! The customer index in memory: built from the customer hashes in `cases_by_opened` at open,
//! kept after each commit, and the schema 5 migration that moves an older store to it.

use std::collections::BTreeSet;

use super::customers::CustomerIndex;
use super::tests::store_case;
use super::*;
use crate::domain::{CaseState, Network};

fn earlier(store: &Store, case: &Case) -> Vec<u64> {
    let context = store.customer_context(case).unwrap();
    context.earlier.iter().map(|(id, _)| id.0).collect()
}

/// The index's candidates for a customer.
fn indexed(store: &Store, network: Network, customer: &str) -> Vec<u64> {
    store
        .customers
        .cases_of(codec::customer_hash(network, customer))
}

#[test]
fn customer_context_finds_earlier_cases_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store_case(&store, Network::Bluesky, "jo");
        store_case(&store, Network::Bluesky, "sam");
        store_case(&store, Network::Bluesky, "jo");
        assert_eq!(store.customer_index_entries(), 3);
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.customer_index_entries(), 3);
    let fourth = store_case(&store, Network::Bluesky, "jo");
    assert_eq!(earlier(&store, &fourth), [1, 3]);
    assert_eq!(indexed(&store, Network::Bluesky, "sam"), [2]);
    assert_eq!(indexed(&store, Network::Mastodon, "jo"), Vec::<u64>::new());
    // Nothing of the index is on disk but the hashes in the case index.
    assert!(!dir.path().join("customers").exists());
    assert!(!store.db.tree_names().iter().any(|name| name == b"authors"));
}

#[test]
fn a_committed_case_is_indexed_at_once_and_an_aborted_one_never() {
    let store = Store::temporary().unwrap();
    let first = store_case(&store, Network::Bluesky, "jo");
    let aborted: Result<(), StoreError> = store.transact(|tx| {
        let (case, _) = tests::opened(tx.next_case_id()?.0, Network::Bluesky, "jo");
        tx.put_case(&case)?;
        Err(ConflictableTransactionError::Abort(StoreError::Codec {
            tree: "cases",
            message: "a test abort".to_string(),
        }))
    });
    assert!(aborted.is_err());
    assert_eq!(store.customer_index_entries(), 1);
    // A case written again (a state change) is not indexed twice.
    let mut claimed = first.clone();
    claimed.state = CaseState::Claimed;
    store.transact(|tx| tx.put_case(&claimed)).unwrap();
    assert_eq!(store.customer_index_entries(), 1);
    let second = store_case(&store, Network::Bluesky, "jo");
    assert_eq!(earlier(&store, &second), [first.id.0]);
}

#[test]
fn another_customer_with_the_same_hash_is_not_listed() {
    let store = Store::temporary().unwrap();
    let jo = store_case(&store, Network::Bluesky, "jo");
    let sam = store_case(&store, Network::Bluesky, "sam");
    let jo_again = store_case(&store, Network::Bluesky, "jo");
    // What a hash collision looks like to the index: sam's case under jo's hash.
    store
        .customers
        .insert([(codec::customer_hash(Network::Bluesky, "jo"), sam.id.0)]);
    assert_eq!(indexed(&store, Network::Bluesky, "jo"), [1, 2, 3]);
    assert_eq!(earlier(&store, &jo_again), [jo.id.0]);
}

#[test]
fn concurrent_transactions_index_every_case_once() {
    let store = Store::temporary().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    store_case(&store, Network::X, &format!("customer-{thread}"));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(store.customer_index_entries(), 100);
    let mut all: Vec<u64> = (0..4)
        .flat_map(|thread| indexed(&store, Network::X, &format!("customer-{thread}")))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<u64>>());
}

#[test]
fn the_index_answers_like_a_set_across_merges() {
    let index = CustomerIndex::default();
    index.finish_build(Vec::new());
    let mut model = BTreeSet::new();
    // xorshift: reproducible entries, with repeats, over more adds than one merge holds.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..40 {
        let entries: Vec<(u64, u64)> = (0..500).map(|_| (next() % 97, next() % 5_000)).collect();
        model.extend(entries.iter().copied());
        index.insert(entries);
        if round % 7 == 0 {
            for customer in 0..97 {
                let expected: Vec<u64> = model
                    .range((customer, 0)..=(customer, u64::MAX))
                    .map(|&(_, id)| id)
                    .collect();
                assert_eq!(index.cases_of(customer), expected, "customer {customer}");
            }
        }
    }
    assert!(index.cases_of(97).is_empty());
}

#[test]
fn entries_added_while_the_build_runs_are_merged_with_what_it_found() {
    let index = CustomerIndex::default();
    index.insert([(7, 3), (7, 1)]);
    index.insert((0..5_000).map(|id| (9, id)));
    index.finish_build(vec![(7, 1), (7, 2), (8, 4)]);
    assert_eq!(index.cases_of(7), [1, 2, 3]);
    assert_eq!(index.cases_of(8), [4]);
    assert_eq!(index.cases_of(9).len(), 5_000);
    assert_eq!(index.len(), 5_004);
}

#[test]
fn a_reader_waits_for_the_build() {
    let index = std::sync::Arc::new(CustomerIndex::default());
    let reader = {
        let index = index.clone();
        std::thread::spawn(move || index.cases_of(7))
    };
    index.finish_build(vec![(7, 1)]);
    assert_eq!(reader.join().unwrap(), [1]);
}

/// Rewrites a store's case index the way schema 4 wrote it (no customer hash) and sets its
/// schema version to 4, with the two places an older store kept its customer index.
fn make_schema_4(dir: &std::path::Path, half: bool) {
    let db = open_db(dir).unwrap();
    let index = db.open_tree("cases_by_opened").unwrap();
    for (n, item) in index.iter().enumerate() {
        let (key, value) = item.unwrap();
        if half && n % 2 == 0 {
            continue;
        }
        let (header, summary) = codec::opened_parts(&value);
        let mut old = vec![header[0], header[1] & 1];
        old.extend_from_slice(summary);
        index.insert(key, old).unwrap();
    }
    db.open_tree("meta")
        .unwrap()
        .insert(codec::SCHEMA_KEY, &4u32.to_be_bytes())
        .unwrap();
    db.open_tree("authors")
        .unwrap()
        .insert(b"bluesky\0jo", b"[1,3]".as_slice())
        .unwrap();
    db.flush().unwrap();
    drop(db);
    let old_index = sled::Config::new()
        .path(dir.join("customers"))
        .open()
        .unwrap();
    old_index
        .insert(b"\0watermark", &3u64.to_be_bytes())
        .unwrap();
    old_index.flush().unwrap();
}

#[test]
fn a_schema_4_store_gets_customer_hashes_and_loses_its_old_index() {
    for half in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (third, summaries) = {
            let store = Store::open(dir.path()).unwrap();
            store_case(&store, Network::Bluesky, "jo");
            store_case(&store, Network::Bluesky, "sam");
            let third = store_case(&store, Network::Bluesky, "jo");
            let summaries: Vec<CaseSummary> = store
                .case_summaries(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
                .map(Result::unwrap)
                .collect();
            (third, summaries)
        };
        make_schema_4(dir.path(), half);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.customer_index_entries(), 3, "half migrated: {half}");
        assert_eq!(earlier(&store, &third), [1]);
        assert_eq!(indexed(&store, Network::Bluesky, "sam"), [2]);
        for item in store.cases_by_opened.iter() {
            let (_, value) = item.unwrap();
            assert!(codec::opened_customer(&value).is_some());
        }
        // The summaries and the counters read as before.
        let after: Vec<CaseSummary> = store
            .case_summaries(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
            .map(Result::unwrap)
            .collect();
        assert_eq!(after, summaries);
        assert_eq!(store.stats().unwrap().cases_by_state["new"], 3);
        assert!(!dir.path().join("customers").exists());
        assert!(!store.db.tree_names().iter().any(|name| name == b"authors"));
        assert_eq!(
            store
                .meta
                .get(codec::SCHEMA_KEY)
                .unwrap()
                .map(|bytes| codec::decode_u32(&bytes)),
            Some(SCHEMA_VERSION)
        );
    }
}
