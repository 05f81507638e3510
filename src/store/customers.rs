//! The customer index: the cases each customer opened (what [`Store::customer_context`]
//! reads), in a sled Db of its own (`customers/` in the store's directory).
//!
//! Why a Db of its own: it is written at a random key position for every new case, and sled
//! 0.34 amplifies such a tree many times over, and in a shared Db also keeps the other trees'
//! segments from being cleaned (BENCHMARKS.md, session 5). Alone, it costs about its own size
//! again in files, and the main Db keeps only trees written in key order (bar `posts`).
//!
//! It is a **derived** index, kept right without cross-Db transactions:
//! - It holds a watermark, written in the same batch as the entries it covers: every case up
//!   to it is indexed.
//! - [`Tx::add_author_case`] only notes the case; after the transaction commits,
//!   [`Store::transact`] queues the notes for the [`Indexer`]'s thread, which calls
//!   [`CustomerIndex::index`] (so the round that opened the cases does not wait for the
//!   index's random-position inserts; `customer_context` first waits for the queue, then
//!   catches up if the watermark is still behind). Case ids are allocated in the
//!   transactions that open the cases, so they commit in id order, but two threads' steps
//!   after the commit may run in either order: notes that don't continue the watermark
//!   exactly are not trusted, the index catches up by reading `cases` from the watermark on
//!   (ids are its keys, in order).
//! - On open it catches up the same way, so a crash between the main commit and the index's
//!   write loses nothing; a lost `customers/` directory is rebuilt from the cases.
//! - It is not flushed with the main store (it can be rebuilt): sled flushes it in the
//!   background, and it is flushed when the store is dropped.
//!
//! [`Store::customer_context`]: super::Store::customer_context
//! [`Store::transact`]: super::Store::transact
//! [`Tx::add_author_case`]: super::Tx::add_author_case

use std::path::Path;
use std::sync::Mutex;

use serde::Deserialize;

use super::{codec, decode, open_db_with, StoreError};
use crate::domain::Network;

/// sled's cache for the index (its default is 1 GB): entries are ~40 bytes, and a read is
/// one prefix scan per card.
const CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// Cases indexed per batch when catching up (each batch moves the watermark).
const CATCH_UP_BATCH: usize = 10_000;

/// A case to index, as [`super::Tx::add_author_case`] notes it: id, network, customer id.
pub(super) type Noted = (u64, Network, String);

/// The index's own Db and its watermark.
pub(super) struct CustomerIndex {
    db: sled::Db,
    /// The watermark as last written; held while the index is written, so the steps of two
    /// threads don't interleave.
    mark: Mutex<u64>,
}

/// The fields of a stored case the index needs.
#[derive(Deserialize)]
struct CaseCustomer {
    network: Network,
    customer: CustomerId,
}

#[derive(Deserialize)]
struct CustomerId {
    id: String,
}

impl CustomerIndex {
    /// Opens the index of the store at `path` (in its `customers/` subdirectory, which sled
    /// ignores in the main Db's directory). Writes nothing: see [`CustomerIndex::recover`].
    pub(super) fn open(path: &Path) -> Result<CustomerIndex, StoreError> {
        let path = path.join("customers");
        let config = sled::Config::new().path(&path).cache_capacity(CACHE_BYTES);
        CustomerIndex::from_db(open_db_with(&config, &path)?)
    }

    /// An index in temporary files (for `Store::temporary`).
    pub(super) fn temporary() -> Result<CustomerIndex, StoreError> {
        let config = sled::Config::new()
            .temporary(true)
            .cache_capacity(CACHE_BYTES);
        CustomerIndex::from_db(config.open()?)
    }

    fn from_db(db: sled::Db) -> Result<CustomerIndex, StoreError> {
        let mark = db
            .get(codec::CUSTOMERS_WATERMARK_KEY)?
            .map_or(0, |bytes| codec::decode_u64(&bytes));
        Ok(CustomerIndex {
            db,
            mark: Mutex::new(mark),
        })
    }

    /// Brings the index up to date on open: moves an old store's `authors` tree into it
    /// (then drops the tree; re-runnable), and catches up from the watermark.
    pub(super) fn recover(
        &self,
        main: &sled::Db,
        meta: &sled::Tree,
        cases: &sled::Tree,
    ) -> Result<(), StoreError> {
        let mut mark = self.lock();
        let next_case = meta
            .get(codec::NEXT_CASE_KEY)?
            .map_or(1, |bytes| codec::decode_u64(&bytes));
        if *mark >= next_case {
            // The index is ahead of the cases (the main store came back from an older copy):
            // its entries can't be trusted, rebuild it.
            tracing::warn!(
                watermark = *mark,
                next_case,
                "The customer index is ahead of the store's cases: rebuilding it"
            );
            self.db.clear()?;
            *mark = 0;
        }
        let old_layout = main.tree_names().iter().any(|name| name == b"authors");
        if old_layout {
            let old = main.open_tree("authors")?;
            if !old.is_empty() {
                self.migrate(&old, &mut mark, cases)?;
            }
            main.drop_tree("authors")?;
            main.flush()?;
        }
        // Not flushed: what a crash loses here is caught up again on the next open.
        self.catch_up(&mut mark, cases)
    }

    /// Copies the old `authors` tree's lists (network NUL customer → JSON list of case ids,
    /// written in the transactions of the cases, so complete up to the last case) into the
    /// index, and moves the watermark to the last case. Idempotent.
    fn migrate(
        &self,
        old: &sled::Tree,
        mark: &mut u64,
        cases: &sled::Tree,
    ) -> Result<(), StoreError> {
        tracing::info!(
            customers = old.len(),
            "Moving the customer index to its own Db"
        );
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for item in old.iter() {
            let (key, value) = item?;
            let ids: Vec<u64> = match decode("authors", &value) {
                Ok(ids) => ids,
                Err(error) => {
                    tracing::warn!(%error, "Skipping an unreadable customer list");
                    continue;
                }
            };
            let mut prefix = key.to_vec();
            prefix.push(0);
            for id in ids {
                batch.insert(codec::customer_case_key(&prefix, id), Vec::new());
                pending += 1;
            }
            if pending >= CATCH_UP_BATCH {
                self.db.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        let last_case = cases.last()?.map_or(0, |(key, _)| codec::decode_u64(&key));
        self.write(batch, mark, last_case.max(*mark))?;
        self.db.flush()?;
        Ok(())
    }

    /// Indexes the cases a transaction noted, after it committed. Never fails the
    /// transaction (it is committed): an error is logged and the next write or open catches up.
    pub(super) fn index(&self, mut noted: Vec<Noted>, cases: &sled::Tree) {
        noted.sort_by_key(|(id, _, _)| *id);
        noted.dedup_by_key(|(id, _, _)| *id);
        let mut mark = self.lock();
        noted.retain(|(id, _, _)| *id > *mark);
        if noted.is_empty() {
            return;
        }
        let continues = noted
            .iter()
            .zip(*mark + 1..)
            .all(|((id, _, _), expected)| *id == expected);
        let result = if continues {
            let mut batch = sled::Batch::default();
            for (id, network, customer) in &noted {
                let key =
                    codec::customer_case_key(&codec::customer_prefix(*network, customer), *id);
                batch.insert(key, Vec::new());
            }
            let last = noted.last().map_or(*mark, |(id, _, _)| *id);
            self.write(batch, &mut mark, last)
        } else {
            self.catch_up(&mut mark, cases)
        };
        if let Err(error) = result {
            tracing::warn!(
                %error,
                "Could not write the customer index; it catches up from the cases later"
            );
        }
    }

    /// Makes sure every case up to `id` is indexed (a no-op unless an earlier write failed).
    pub(super) fn ensure(&self, id: u64, cases: &sled::Tree) -> Result<(), StoreError> {
        let mut mark = self.lock();
        if *mark < id {
            self.catch_up(&mut mark, cases)?;
        }
        Ok(())
    }

    /// The ids of a customer's cases, in order.
    pub(super) fn cases_of(
        &self,
        network: Network,
        customer: &str,
    ) -> Result<Vec<u64>, StoreError> {
        let prefix = codec::customer_prefix(network, customer);
        self.db
            .scan_prefix(&prefix)
            .keys()
            .filter_map(|key| match key {
                Ok(key) => codec::customer_case_id(&prefix, &key).map(Ok),
                Err(error) => Some(Err(error.into())),
            })
            .collect()
    }

    /// The index's record count and the bytes of its keys and values (for `tree_sizes`).
    pub(super) fn size(&self) -> Result<(u64, u64, u64), StoreError> {
        let (mut count, mut keys, mut values) = (0, 0, 0);
        for item in self.db.iter() {
            let (key, value) = item?;
            count += 1;
            keys += key.len() as u64;
            values += value.len() as u64;
        }
        Ok((count, keys, values))
    }

    /// Indexes every case after the watermark, read from `cases`, in batches that each move
    /// the watermark. A case that does not decode is logged and left out.
    fn catch_up(&self, mark: &mut u64, cases: &sled::Tree) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        let mut last = *mark;
        for item in cases.range((*mark + 1).to_be_bytes()..) {
            let (key, value) = item?;
            last = codec::decode_u64(&key);
            match decode::<CaseCustomer>("cases", &value) {
                Ok(case) => {
                    let prefix = codec::customer_prefix(case.network, &case.customer.id);
                    batch.insert(codec::customer_case_key(&prefix, last), Vec::new());
                }
                Err(error) => {
                    tracing::warn!(case = last, %error, "Cannot index an unreadable case");
                }
            }
            pending += 1;
            if pending == CATCH_UP_BATCH {
                self.write(std::mem::take(&mut batch), mark, last)?;
                pending = 0;
            }
        }
        if last > *mark {
            self.write(batch, mark, last)?;
        }
        Ok(())
    }

    /// Writes entries and the watermark `to` in one batch.
    fn write(&self, mut batch: sled::Batch, mark: &mut u64, to: u64) -> Result<(), StoreError> {
        batch.insert(codec::CUSTOMERS_WATERMARK_KEY, &to.to_be_bytes());
        self.db.apply_batch(batch)?;
        *mark = to;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.mark
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The watermark (for tests).
    #[cfg(test)]
    pub(super) fn watermark(&self) -> u64 {
        *self.lock()
    }

    /// The index's Db (for tests).
    #[cfg(test)]
    pub(super) fn db(&self) -> &sled::Db {
        &self.db
    }
}

impl Drop for CustomerIndex {
    fn drop(&mut self) {
        if let Err(error) = self.db.flush() {
            tracing::warn!(%error, "Could not flush the customer index");
        }
    }
}

/// What the indexing thread is asked to do.
enum Job {
    /// Index the cases a committed transaction noted.
    Index(Vec<Noted>),
    /// Answer once every job sent before is done.
    Settle(std::sync::mpsc::Sender<()>),
}

/// Writes the customer index on a thread of its own, so the transaction that opened the
/// cases (the pipeline's round) does not wait for it: the index's inserts land at random
/// positions and cost sled several microseconds each. Notes queued while the thread works
/// are written in one batch. Readers never see a stale index: `Store::customer_context`
/// catches up from the cases when the watermark is behind the case it is asked about.
/// Dropping it finishes the queued work.
pub(super) struct Indexer {
    /// Taken (closed) on drop, which ends the thread once the queue is empty.
    queue: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Indexer {
    /// Starts the thread for `index`, which reads `cases` to catch up.
    pub(super) fn start(
        index: std::sync::Arc<CustomerIndex>,
        cases: sled::Tree,
    ) -> Result<Indexer, StoreError> {
        let (queue, jobs) = std::sync::mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("customer-index".to_string())
            .spawn(move || {
                while let Ok(job) = jobs.recv() {
                    let mut noted = Vec::new();
                    let mut settled = Vec::new();
                    let mut next = Some(job);
                    while let Some(job) = next {
                        match job {
                            Job::Index(mut more) => noted.append(&mut more),
                            Job::Settle(answer) => settled.push(answer),
                        }
                        next = jobs.try_recv().ok();
                    }
                    if !noted.is_empty() {
                        index.index(noted, &cases);
                    }
                    for answer in settled {
                        let _ = answer.send(());
                    }
                }
            })
            .map_err(|error| StoreError::Database(sled::Error::Io(error)))?;
        Ok(Indexer {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Queues the cases a committed transaction noted.
    pub(super) fn index(&self, noted: Vec<Noted>) {
        let sent = self
            .queue
            .as_ref()
            .is_some_and(|queue| queue.send(Job::Index(noted)).is_ok());
        if !sent {
            tracing::warn!(
                "The customer index thread is gone; the index catches up on the next read or open"
            );
        }
    }

    /// Waits until every note queued so far is written.
    pub(super) fn settle(&self) {
        let (answer, answered) = std::sync::mpsc::channel();
        let sent = self
            .queue
            .as_ref()
            .is_some_and(|queue| queue.send(Job::Settle(answer)).is_ok());
        if sent {
            let _ = answered.recv();
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
