//! The skipped-post index: customers' posts triage stored without a card, newest last, for
//! the "Skipped" review (`meta` `skipped/<id>` → [`SkippedEntry`]). The posts themselves stay
//! in `posts`; an entry only says which post, and its kudos when praise went to the kudos
//! channel. Bounded: writing entry `n` removes entry `n - SKIPPED_KEPT`, so the index never
//! holds more than [`SKIPPED_KEPT`] entries whatever the traffic.

use serde::{Deserialize, Serialize};

use super::{codec, decode, tx_get_json, tx_put_json, Store, StoreError, StoredPost, Tx, TxError};
use crate::domain::PostRef;

/// How many skipped posts the index keeps (the oldest go first).
pub const SKIPPED_KEPT: u64 = 1000;

/// One entry of the skipped-post index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedEntry {
    /// The post (its `posts` record holds the mention, triage's verdict and its case, if it
    /// became one).
    pub post: PostRef,
    /// The kudos shown for it (praise with `[triage].kudos`), if any.
    #[serde(default)]
    pub kudos: Option<u64>,
}

impl Store {
    /// The newest `limit` skipped posts, newest first: each entry's id, the entry and the
    /// post's record (`None` if it is gone).
    pub fn recent_skipped(
        &self,
        limit: usize,
    ) -> Result<Vec<(u64, SkippedEntry, Option<StoredPost>)>, StoreError> {
        let mut found = Vec::new();
        for item in self
            .meta
            .scan_prefix(codec::SKIPPED_PREFIX)
            .rev()
            .take(limit)
        {
            let (key, value) = item?;
            let id = codec::decode_u64(&key[codec::SKIPPED_PREFIX.len()..]);
            let entry: SkippedEntry = decode("meta", &value)?;
            let post = self.post(&entry.post)?;
            found.push((id, entry, post));
        }
        Ok(found)
    }
}

impl Tx<'_> {
    /// Adds a post to the skipped-post index and returns its entry id; the entry
    /// [`SKIPPED_KEPT`] before it is removed.
    pub fn add_skipped(&self, entry: &SkippedEntry) -> Result<u64, TxError> {
        let id = self.next_in_sequence(codec::NEXT_SKIPPED_KEY)?;
        tx_put_json(self.meta, "meta", &codec::skipped_key(id), entry)?;
        if id > SKIPPED_KEPT {
            self.meta.remove(codec::skipped_key(id - SKIPPED_KEPT))?;
        }
        Ok(id)
    }

    /// A skipped-post entry by id (`None` once it fell out of the index).
    pub fn skipped(&self, id: u64) -> Result<Option<SkippedEntry>, TxError> {
        tx_get_json(self.meta, "meta", &codec::skipped_key(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Network;

    #[test]
    fn the_index_keeps_the_newest_entries_only_and_reads_newest_first() {
        let store = Store::temporary().expect("store");
        let total = SKIPPED_KEPT + 5;
        for n in 1..=total {
            let entry = SkippedEntry {
                post: PostRef::new(Network::X, n.to_string()),
                kudos: None,
            };
            let id = store.transact(|tx| tx.add_skipped(&entry)).expect("added");
            assert_eq!(id, n);
        }
        let newest = store.recent_skipped(3).expect("read");
        let ids: Vec<u64> = newest.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(ids, [total, total - 1, total - 2]);
        assert_eq!(newest[0].1.post.id, total.to_string());
        assert!(newest[0].2.is_none(), "no post record was written");
        let all = store.recent_skipped(usize::MAX).expect("read");
        assert_eq!(all.len() as u64, SKIPPED_KEPT);
        assert_eq!(all.last().map(|(id, _, _)| *id), Some(6));
        let (first, kept) = store
            .transact(|tx| Ok((tx.skipped(5)?, tx.skipped(6)?)))
            .expect("read");
        assert!(first.is_none() && kept.is_some());
    }
}
