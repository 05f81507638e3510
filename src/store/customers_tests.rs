//! The customer index in its own Db: kept after each commit, caught up on open, moved from
//! an older store's `authors` tree.

use super::tests::{opened, store_case};
use super::*;
use crate::domain::Network;

/// The index's watermark once the indexing thread has written what it was given.
fn watermark(store: &Store) -> u64 {
    store.indexer.settle();
    store.customers.watermark()
}

/// The customer index's entries for a customer (once the indexing thread has written what
/// it was given): case ids, in order.
fn indexed(store: &Store, network: Network, customer: &str) -> Vec<u64> {
    store.indexer.settle();
    store.customers.cases_of(network, customer).unwrap()
}

fn earlier(store: &Store, case: &Case) -> Vec<u64> {
    let context = store.customer_context(case).unwrap();
    context.earlier.iter().map(|(id, _)| id.0).collect()
}

/// Writes a case without noting it for the index: what the store holds after a crash between
/// the main commit and the index's write.
fn store_case_unindexed(store: &Store, network: Network, author_id: &str) -> Case {
    let write = |tx: &Tx| {
        let (case, _) = opened(tx.next_case_id()?.0, network, author_id);
        tx.put_case(&case)?;
        Ok(case)
    };
    store.transact(write).unwrap()
}

#[test]
fn customer_context_finds_earlier_cases_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store_case(&store, Network::Bluesky, "jo");
        store_case(&store, Network::Bluesky, "sam");
        store_case(&store, Network::Bluesky, "jo");
        assert_eq!(watermark(&store), 3);
    }
    // The index lives in its own Db, in the store's directory.
    assert!(dir.path().join("customers").is_dir());
    let store = Store::open(dir.path()).unwrap();
    let fourth = store_case(&store, Network::Bluesky, "jo");
    assert_eq!(earlier(&store, &fourth), [1, 3]);
    assert_eq!(indexed(&store, Network::Bluesky, "sam"), [2]);
    assert_eq!(indexed(&store, Network::Mastodon, "jo"), Vec::<u64>::new());
    // The main Db has no customer tree any more.
    assert!(!store.db.tree_names().iter().any(|name| name == b"authors"));
}

#[test]
fn a_crash_between_the_commit_and_the_index_write_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store_case(&store, Network::Bluesky, "jo");
        store_case(&store, Network::Bluesky, "jo");
        store_case_unindexed(&store, Network::Bluesky, "jo");
        assert_eq!(watermark(&store), 2);
        assert_eq!(indexed(&store, Network::Bluesky, "jo"), [1, 2]);
        // And the index's last batch is lost too: its entry and watermark move.
        let index = store.customers.db();
        index
            .remove(codec::customer_case_key(
                &codec::customer_prefix(Network::Bluesky, "jo"),
                2,
            ))
            .unwrap();
        index
            .insert(codec::CUSTOMERS_WATERMARK_KEY, &1u64.to_be_bytes())
            .unwrap();
        index.flush().unwrap();
        store.db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(watermark(&store), 3);
    assert_eq!(indexed(&store, Network::Bluesky, "jo"), [1, 2, 3]);
}

#[test]
fn an_index_ahead_of_the_cases_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store_case(&store, Network::Bluesky, "jo");
    store.indexer.settle();
    // As if the main store came back from a copy older than the index.
    store
        .customers
        .db()
        .insert(
            codec::customer_case_key(&codec::customer_prefix(Network::Bluesky, "jo"), 7),
            Vec::new(),
        )
        .unwrap();
    store
        .customers
        .db()
        .insert(codec::CUSTOMERS_WATERMARK_KEY, &7u64.to_be_bytes())
        .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(watermark(&store), 1);
    assert_eq!(indexed(&store, Network::Bluesky, "jo"), [1]);
    // The next case is indexed again.
    store_case(&store, Network::Bluesky, "jo");
    assert_eq!(indexed(&store, Network::Bluesky, "jo"), [1, 2]);
}

#[test]
fn post_commit_steps_out_of_order_leave_no_gap() {
    let store = Store::temporary().unwrap();
    let cases: Vec<Case> = ["jo", "sam", "jo"]
        .into_iter()
        .map(|author| store_case_unindexed(&store, Network::Mastodon, author))
        .collect();
    let note = |case: &Case| (case.id.0, case.network, case.customer.id.clone());
    // The step of the transaction that opened case 3 runs first: its note does not continue
    // the watermark, so the index reads the cases from the watermark on.
    store.customers.index(vec![note(&cases[2])], &store.cases);
    assert_eq!(watermark(&store), 3);
    assert_eq!(indexed(&store, Network::Mastodon, "jo"), [1, 3]);
    assert_eq!(indexed(&store, Network::Mastodon, "sam"), [2]);
    // Then the step of cases 1 and 2: already indexed.
    store
        .customers
        .index(vec![note(&cases[0]), note(&cases[1])], &store.cases);
    assert_eq!(watermark(&store), 3);
    assert_eq!(indexed(&store, Network::Mastodon, "jo"), [1, 3]);
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
    assert_eq!(watermark(&store), 100);
    let mut all: Vec<u64> = (0..4)
        .flat_map(|thread| indexed(&store, Network::X, &format!("customer-{thread}")))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<u64>>());
}

#[test]
fn an_old_store_s_authors_tree_moves_into_the_customer_index() {
    let dir = tempfile::tempdir().unwrap();
    let third = {
        let store = Store::open(dir.path()).unwrap();
        store_case(&store, Network::Bluesky, "jo");
        store_case(&store, Network::Bluesky, "sam");
        store_case(&store, Network::Bluesky, "jo")
    };
    // The old layout: no customer Db, the lists in the main Db's `authors` tree.
    std::fs::remove_dir_all(dir.path().join("customers")).unwrap();
    let write_old_lists = || {
        let db = open_db(dir.path()).unwrap();
        let authors = db.open_tree("authors").unwrap();
        for (author, ids) in [("jo", "[1,3]"), ("sam", "[2]")] {
            authors
                .insert(codec::author_key(Network::Bluesky, author), ids.as_bytes())
                .unwrap();
        }
        db.flush().unwrap();
    };
    write_old_lists();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(earlier(&store, &third), [1]);
        assert_eq!(indexed(&store, Network::Bluesky, "sam"), [2]);
        assert_eq!(watermark(&store), 3);
        assert!(!store.db.tree_names().iter().any(|name| name == b"authors"));
    }
    // A crash after the index was written and before the old tree was dropped: the move runs
    // again, and changes nothing.
    write_old_lists();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(indexed(&store, Network::Bluesky, "jo"), [1, 3]);
    assert_eq!(watermark(&store), 3);
    assert!(!store.db.tree_names().iter().any(|name| name == b"authors"));
    let fourth = store_case(&store, Network::Bluesky, "jo");
    assert_eq!(earlier(&store, &fourth), [1, 3]);
}
