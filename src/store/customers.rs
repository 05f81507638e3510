//! The customer index: the cases each customer opened (what [`Store::customer_context`]
//! reads), held in memory and derived from the `cases_by_opened` tree.
//!
//! Why in memory: every `cases_by_opened` value carries the hash of its case's customer
//! (`codec::customer_hash`, since schema 5), so the index costs no record of its own on disk.
//! Kept on disk as one key per case (sessions 5-6), it was written at a random key position
//! for every new case, which sled 0.34 amplifies many times over: 212 MB of files for 38 MB
//! of keys at 1M cases (BENCHMARKS.md). In memory it is 16 bytes per case (16 MB at 1M cases),
//! built by one scan of `cases_by_opened` on a thread started when the store opens (about a
//! second at 1M cases, so the open does not wait for it; readers do).
//!
//! How it stays right:
//! - [`super::Tx::put_case`] notes a case whose index entry is new; once the transaction
//!   commits, [`super::Store::transact`] adds the notes here (an aborted or retried attempt's
//!   notes are dropped with it). What committed is in `cases_by_opened`, so a crash loses
//!   nothing: the next open builds the index again.
//! - Entries added while the build runs wait in the recent run and are merged with what the
//!   scan found (an entry found twice counts once).
//! - Two customers may share a hash: the index gives candidates, and `customer_context` keeps
//!   only the cases whose network and customer id match.
//!
//! [`Store::customer_context`]: super::Store::customer_context

use std::sync::{Condvar, Mutex, RwLock};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// Whether the build at open is done (readers wait for it).
    built: Mutex<bool>,
    built_signal: Condvar,
}

#[derive(Default)]
struct Entries {
    /// Sorted, no duplicates.
    sorted: Vec<Entry>,
    /// Added since the last merge, in arrival order (may repeat an entry of `sorted`).
    recent: Vec<Entry>,
}

impl CustomerIndex {
    /// Starts building the index from every `cases_by_opened` value on a thread of its own;
    /// the index answers once the build is done. A value without a customer hash (written
    /// before schema 5, which `Store::migrate` adds) is counted and logged; a failed scan is
    /// logged and leaves the index with what it read. Dropping the returned [`Build`] stops
    /// the scan and waits for the thread (which holds the database open).
    pub(super) fn build(
        cases_by_opened: sled::Tree,
    ) -> Result<(Arc<CustomerIndex>, Build), StoreError> {
        let index = Arc::new(CustomerIndex::default());
        let building = index.clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let cancelled = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("customer-index".to_string())
            .spawn(move || {
                if let Some(scanned) = scan(&cases_by_opened, &cancelled) {
                    building.finish_build(scanned);
                }
            })
            .map_err(|error| StoreError::Database(sled::Error::Io(error)))?;
        Ok((
            index,
            Build {
                cancel,
                thread: Some(thread),
            },
        ))
    }

    /// Merges what the build's scan found with what was added meanwhile, and lets readers in.
    pub(super) fn finish_build(&self, mut scanned: Vec<Entry>) {
        {
            let mut entries = self
                .entries
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            scanned.append(&mut entries.sorted);
            scanned.append(&mut entries.recent);
            scanned.sort_unstable();
            scanned.dedup();
            entries.sorted = scanned;
        }
        *self.built_lock() = true;
        self.built_signal.notify_all();
    }

    /// Waits until the build at open is done.
    fn wait_built(&self) {
        let mut built = self.built_lock();
        while !*built {
            built = self
                .built_signal
                .wait(built)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn built_lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds entries (after the transaction that wrote them committed).
    pub(super) fn insert(&self, new: impl IntoIterator<Item = Entry>) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let built = *self.built_lock();
        let Entries { sorted, recent } = &mut *entries;
        // While the build runs, everything waits in `recent` (merged when the build ends);
        // after, an entry the build already found is not added again.
        recent.extend(
            new.into_iter()
                .filter(|entry| !built || sorted.binary_search(entry).is_err()),
        );
        if entries.recent.len() > RECENT_LIMIT && built {
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
        self.wait_built();
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
        self.wait_built();
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.sorted.len() + entries.recent.len()
    }
}

/// The thread building the index at open: dropped with the store, it stops the scan and
/// waits for the thread, so the database closes with the store.
pub(super) struct Build {
    cancel: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Build {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Every (customer hash, case id) in `cases_by_opened`, sorted, each once; `None` once
/// `cancel` is set (the store is going away).
fn scan(cases_by_opened: &sled::Tree, cancel: &AtomicBool) -> Option<Vec<Entry>> {
    let mut entries = Vec::with_capacity(cases_by_opened.len());
    let mut without_hash = 0_u64;
    for (n, item) in cases_by_opened.iter().enumerate() {
        if n % 1024 == 0 && cancel.load(Ordering::Relaxed) {
            return None;
        }
        let (key, value) = match item {
            Ok(item) => item,
            Err(error) => {
                tracing::warn!(%error, "Could not read the whole case index: the customer index misses cases");
                break;
            }
        };
        let (Some(customer), Some(id)) = (codec::opened_customer(&value), key.get(8..16)) else {
            without_hash += 1;
            continue;
        };
        entries.push((customer, codec::decode_u64(id)));
    }
    if without_hash > 0 {
        tracing::warn!(
            cases = without_hash,
            "Cases without a customer hash are left out of the customer index"
        );
    }
    entries.sort_unstable();
    entries.dedup();
    Some(entries)
}
