//! Schema 5: the `posts` record of the post that opened a case is a marker (tag byte, case
//! id) when the case derives it exactly (`StoredPost::opening_of`), read back as that record.

use chrono::Duration;

use super::tests::{opened, raw, store_case};
use super::*;
use crate::domain::{Label, Network};

/// The stored bytes of a post's record.
fn post_bytes(store: &Store, post: &PostRef) -> Vec<u8> {
    raw(&store.posts, &codec::post_key(post))
}

/// Opens a case (case first) and records its opening post as `stored`.
fn put(store: &Store, case: &Case, stored: &StoredPost) {
    store
        .transact(|tx| {
            tx.put_case(case)?;
            tx.put_post(&case.opening.post_ref(), stored)
        })
        .unwrap();
}

#[test]
fn the_pipeline_s_opening_post_record_is_a_marker_read_as_the_record_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let case = store_case(&store, Network::Bluesky, "jo");
    let post = case.opening.post_ref();
    let bytes = post_bytes(&store, &post);
    assert_eq!(bytes.len(), 9);
    assert_eq!(bytes, codec::opening_post_marker(case.id));
    assert!(!compress::is_compressed(&bytes));
    assert_eq!(
        store.post(&post).unwrap(),
        Some(StoredPost::opening_of(&case))
    );
    let in_tx = store.transact(|tx| tx.post(&post)).unwrap();
    assert_eq!(in_tx, Some(StoredPost::opening_of(&case)));
    // Counted as ingested like any customer's post.
    assert_eq!(store.post_count(), 1);
    // A later write of the case (a claim) changes nothing the record derives from.
    let (claimed, _) = super::tests::claim(&store, &case, 5);
    assert_eq!(
        store.post(&post).unwrap(),
        Some(StoredPost::opening_of(&claimed))
    );
    assert_eq!(post_bytes(&store, &post).len(), 9);
}

/// A change to an opening post record.
type Change = fn(&mut StoredPost);

#[test]
fn a_record_that_differs_from_the_derivable_one_is_stored_as_json_and_read_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let changes: [(&str, Change); 6] = [
        ("case", |stored| stored.case = None),
        ("other case", |stored| stored.case = Some(CaseId(99))),
        ("origin", |stored| stored.origin = PostOrigin::Brand),
        ("triage", |stored| {
            if let Some(triage) = &mut stored.triage {
                triage.label = Label::Praise;
            }
        }),
        ("mention", |stored| {
            stored.mention = Some(opened(50, Network::X, "sam").0.opening)
        }),
        ("stored_at", |stored| {
            stored.stored_at += Duration::milliseconds(1)
        }),
    ];
    for (index, (what, change)) in changes.into_iter().enumerate() {
        let (case, _) = opened(index as u64 + 1, Network::Mastodon, "jo");
        let mut stored = StoredPost::opening_of(&case);
        change(&mut stored);
        assert_ne!(stored, StoredPost::opening_of(&case), "{what}");
        put(&store, &case, &stored);
        let post = case.opening.post_ref();
        let bytes = post_bytes(&store, &post);
        assert!(compress::is_compressed(&bytes), "{what}: {bytes:?}");
        assert_eq!(store.post(&post).unwrap(), Some(stored.clone()), "{what}");
        let in_tx = store.transact(|tx| tx.post(&post)).unwrap();
        assert_eq!(in_tx, Some(stored), "{what}");
    }
    // A record whose case is not stored (in this transaction or before) is written as is.
    let (case, _) = opened(20, Network::X, "sam");
    let stored = StoredPost::opening_of(&case);
    store
        .transact(|tx| tx.put_post(&case.opening.post_ref(), &stored))
        .unwrap();
    let bytes = post_bytes(&store, &case.opening.post_ref());
    assert!(compress::is_compressed(&bytes));
    store.transact(|tx| tx.put_case(&case)).unwrap();
    assert_eq!(store.post(&case.opening.post_ref()).unwrap(), Some(stored));
}

#[test]
fn a_case_written_twice_in_one_transaction_is_judged_by_its_last_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (first, _) = opened(1, Network::Bluesky, "jo");
    let mut last = first.clone();
    last.triage.score = 0.4;
    let (early, late) = store
        .transact(|tx| {
            tx.put_case(&first)?;
            tx.put_case(&last)?;
            // A record derived from the first version: no longer what the case derives.
            tx.put_post(
                &PostRef::new(Network::Bluesky, "early"),
                &StoredPost::opening_of(&first),
            )?;
            tx.put_post(&first.opening.post_ref(), &StoredPost::opening_of(&last))?;
            Ok((
                tx.post(&PostRef::new(Network::Bluesky, "early"))?,
                tx.post(&first.opening.post_ref())?,
            ))
        })
        .unwrap();
    assert_eq!(early, Some(StoredPost::opening_of(&first)));
    assert_eq!(late, Some(StoredPost::opening_of(&last)));
    let early_bytes = post_bytes(&store, &PostRef::new(Network::Bluesky, "early"));
    assert!(compress::is_compressed(&early_bytes));
    assert_eq!(
        post_bytes(&store, &first.opening.post_ref()),
        codec::opening_post_marker(first.id)
    );
    assert_eq!(
        store.post(&first.opening.post_ref()).unwrap(),
        Some(StoredPost::opening_of(&last))
    );

    // A case stored before and written again in the transaction is read back (not stashed).
    let mut again = last.clone();
    again.triage.score = 0.2;
    let derived = store
        .transact(|tx| {
            tx.put_case(&again)?;
            tx.put_post(
                &PostRef::new(Network::Bluesky, "again"),
                &StoredPost::opening_of(&again),
            )?;
            tx.put_post(
                &PostRef::new(Network::Bluesky, "stale"),
                &StoredPost::opening_of(&last),
            )?;
            tx.post(&PostRef::new(Network::Bluesky, "again"))
        })
        .unwrap();
    assert_eq!(derived, Some(StoredPost::opening_of(&again)));
    assert_eq!(
        post_bytes(&store, &PostRef::new(Network::Bluesky, "again")).len(),
        9
    );
    assert!(compress::is_compressed(&post_bytes(
        &store,
        &PostRef::new(Network::Bluesky, "stale")
    )));
}

#[test]
fn export_then_import_restores_markers_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let posts = |store: &Store, cases: &[Case]| {
        cases
            .iter()
            .map(|case| {
                let post = case.opening.post_ref();
                (store.post(&post).unwrap(), post_bytes(store, &post))
            })
            .collect::<Vec<_>>()
    };
    let (dump, cases, before) = {
        let store = Store::open(dir.path().join("a").as_path()).unwrap();
        let implicit = store_case(&store, Network::Mastodon, "jo");
        let (explicit, _) = opened(2, Network::X, "sam");
        let mut stored = StoredPost::opening_of(&explicit);
        stored.stored_at += Duration::seconds(1);
        put(&store, &explicit, &stored);
        let cases = vec![implicit, explicit];
        let before = posts(&store, &cases);
        assert_eq!(before[0].1.len(), 9);
        assert!(compress::is_compressed(&before[1].1));
        let mut dump = Vec::new();
        store.export(&mut dump).unwrap();
        (dump, cases, before)
    };
    let marker_hex = hex::encode(codec::opening_post_marker(cases[0].id));
    let text = String::from_utf8(dump.clone()).unwrap();
    assert!(text.lines().any(|line| line.contains("\"posts\"")
        && line.contains(&format!("\"value_hex\":\"{marker_hex}\""))));
    let copy = dir.path().join("b");
    Store::import(&copy, dump.as_slice()).unwrap();
    let store = Store::open(&copy).unwrap();
    assert_eq!(posts(&store, &cases), before);
}

#[test]
fn a_marker_whose_case_is_missing_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let post = PostRef::new(Network::X, "41");
    store
        .posts
        .insert(
            codec::post_key(&post),
            &codec::opening_post_marker(CaseId(77)),
        )
        .unwrap();
    assert!(matches!(
        store.post(&post),
        Err(StoreError::Codec { tree: "posts", .. })
    ));
    let in_tx = store.transact(|tx| tx.post(&post));
    assert!(matches!(
        in_tx,
        Err(StoreError::Codec { tree: "posts", .. })
    ));
    // A tag byte with a broken id is a codec error too.
    store
        .posts
        .insert(codec::post_key(&post), &[codec::OPENING_POST_TAG, 1, 2])
        .unwrap();
    assert!(matches!(
        store.post(&post),
        Err(StoreError::Codec { tree: "posts", .. })
    ));
}

#[test]
fn a_version_4_store_s_json_post_records_read_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (case, compressed, plain) = {
        let store = Store::open(dir.path()).unwrap();
        let (case, _) = opened(1, Network::Bluesky, "jo");
        store.transact(|tx| tx.put_case(&case)).unwrap();
        // As schema 4 wrote them: the derivable record as compressed JSON, and an older
        // one (with its mention) as plain JSON.
        let derivable = StoredPost::opening_of(&case);
        let mut older = derivable.clone();
        older.mention = Some(case.opening.clone());
        let compressed = encode("posts", &derivable).unwrap();
        let plain = serde_json::to_vec(&older).unwrap();
        store
            .posts
            .insert(
                codec::post_key(&case.opening.post_ref()),
                compressed.clone(),
            )
            .unwrap();
        store
            .posts
            .insert(
                codec::post_key(&PostRef::new(Network::Bluesky, "old")),
                plain.clone(),
            )
            .unwrap();
        store
            .meta
            .insert(codec::SCHEMA_KEY, &4u32.to_be_bytes())
            .unwrap();
        store.db.flush().unwrap();
        (case, compressed, plain)
    };
    let store = Store::open(dir.path()).unwrap();
    let version = store.meta.get(codec::SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(codec::decode_u32(&version), SCHEMA_VERSION);
    let post = case.opening.post_ref();
    assert_eq!(
        store.post(&post).unwrap(),
        Some(StoredPost::opening_of(&case))
    );
    let old = PostRef::new(Network::Bluesky, "old");
    let mut older = StoredPost::opening_of(&case);
    older.mention = Some(case.opening.clone());
    assert_eq!(store.post(&old).unwrap(), Some(older));
    // Nothing was rewritten.
    assert_eq!(post_bytes(&store, &post), compressed);
    assert_eq!(post_bytes(&store, &old), plain);
}
