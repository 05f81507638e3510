//! The customer index: the cases each customer opened (what [`Store::customer_context`]
//! reads), held in memory and derived from the `cases_by_opened` tree.
//!
//! Why in memory: every `cases_by_opened` value carries the hash of its case's customer
//! (`codec::customer_hash`, since schema 5), so the index costs no record of its own on disk.
//! Kept on disk as one key per case (sessions 5-6), it was written at a random key position
//! for every new case, which sled 0.34 amplifies many times over: 212 MB of files for 38 MB
//! of keys at 1M cases (BENCHMARKS.md). In memory it is 16 bytes per case (16 MB at 1M cases),
//! built by one scan of `cases_by_opened` when the store opens.
//!
//! How it stays right:
//! - [`super::Tx::put_case`] notes a case whose index entry is new; once the transaction
//!   commits, [`super::Store::transact`] adds the notes here (an aborted or retried attempt's
//!   notes are dropped with it). What committed is in `cases_by_opened`, so a crash loses
//!   nothing: the next open builds the index again.
//! - Two customers may share a hash: the index gives candidates, and `customer_context` keeps
//!   only the cases whose network and customer id match.
//!
//! [`Store::customer_context`]: super::Store::customer_context

use std::sync::RwLock;

use super::{codec, StoreError};

/// An entry: the customer's hash, then the case id (so sorting groups a customer's cases,
/// in id order).
pub(super) type Entry = (u64, u64);

/// Entries added since the last merge are kept apart (unsorted) up to this many, then merged
/// into the sorted list: a merge moves the whole list (16 MB at 1M cases, a few ms).
const RECENT_LIMIT: usize = 4096;

/// The index: every (customer hash, case id), in memory.
#[derive(Default)]
pub(super) struct CustomerIndex {
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Sorted, no duplicates.
    sorted: Vec<Entry>,
    /// Added since the last merge, in arrival order (may repeat an entry of `sorted`).
    recent: Vec<Entry>,
}

impl CustomerIndex {
    /// Builds the index from every `cases_by_opened` value. A value without a customer hash
    /// (written before schema 5, which `Store::migrate` adds) is counted and logged.
    pub(super) fn build(cases_by_opened: &sled::Tree) -> Result<CustomerIndex, StoreError> {
        let mut sorted = Vec::with_capacity(cases_by_opened.len());
        let mut without_hash = 0_u64;
        for item in cases_by_opened.iter() {
            let (key, value) = item?;
            let (Some(customer), Some(id)) = (codec::opened_customer(&value), key.get(8..16))
            else {
                without_hash += 1;
                continue;
            };
            sorted.push((customer, codec::decode_u64(id)));
        }
        if without_hash > 0 {
            tracing::warn!(
                cases = without_hash,
                "Cases without a customer hash are left out of the customer index"
            );
        }
        sorted.sort_unstable();
        sorted.dedup();
        Ok(CustomerIndex {
            entries: RwLock::new(Entries {
                sorted,
                recent: Vec::new(),
            }),
        })
    }

    /// Adds entries (after the transaction that wrote them committed).
    pub(super) fn insert(&self, new: impl IntoIterator<Item = Entry>) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.recent.extend(new);
        if entries.recent.len() > RECENT_LIMIT {
            let Entries { sorted, recent } = &mut *entries;
            recent.sort_unstable();
            sorted.append(recent);
            // Two sorted runs: the stable sort merges them in linear time.
            sorted.sort();
            sorted.dedup();
        }
    }

    /// The ids of the cases of every customer whose hash is `customer`, in id order, each
    /// once.
    pub(super) fn cases_of(&self, customer: u64) -> Vec<u64> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = entries.sorted.partition_point(|&(hash, _)| hash < customer);
        let mut ids: Vec<u64> = entries.sorted[start..]
            .iter()
            .take_while(|&&(hash, _)| hash == customer)
            .chain(entries.recent.iter().filter(|&&(hash, _)| hash == customer))
            .map(|&(_, id)| id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// How many entries the index holds (a case noted twice before a merge counts twice).
    pub(super) fn len(&self) -> usize {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.sorted.len() + entries.recent.len()
    }
}
