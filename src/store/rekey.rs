//! The schema 4 migration of `posts` and `labels` keys (`codec::post_key`): every key written
//! in the schema 3 form (network NUL id) is moved to the time-ordered form, in batches that
//! each insert the new keys and remove the old ones atomically (`sled::Batch`). Keys already
//! in the new form are recognised by their kind byte and left alone, so a migration stopped
//! anywhere (a crash, a kill) finishes on the next open; only one batch is in memory at a time.

use std::ops::Bound;

use super::{codec, StoreError};

/// Keys moved per batch.
const BATCH: usize = 1000;

/// Moves every schema 3 key of `tree` to its schema 4 form; returns how many were moved.
pub(super) fn post_keys(tree: &sled::Tree) -> Result<u64, StoreError> {
    post_keys_in_batches(tree, BATCH, u64::MAX)
}

/// [`post_keys`] with `batch` keys per batch, stopping after `batches` batches (tests use the
/// limit to leave a migration half done, as a crash would).
pub(super) fn post_keys_in_batches(
    tree: &sled::Tree,
    batch: usize,
    batches: u64,
) -> Result<u64, StoreError> {
    let mut moved = 0;
    let mut after: Bound<sled::IVec> = Bound::Unbounded;
    for _ in 0..batches {
        let mut writes = sled::Batch::default();
        let mut in_batch = 0;
        for item in tree.range::<sled::IVec, _>((after.clone(), Bound::Unbounded)) {
            let (key, value) = item?;
            if let Some(new_key) = codec::rekeyed_post_key(&key) {
                writes.insert(new_key, value);
                writes.remove(key.clone());
                in_batch += 1;
            }
            after = Bound::Excluded(key);
            if in_batch == batch {
                break;
            }
        }
        if in_batch == 0 {
            break;
        }
        tree.apply_batch(writes)?;
        moved += in_batch as u64;
    }
    Ok(moved)
}
