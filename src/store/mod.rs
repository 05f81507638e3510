//! The store: the only module that touches the database (sled 0.34.7).
//!
//! **Architecture invariant:** nothing outside `store/` imports sled. A state change and the side
//! effects it implies (outbox entries) are written in one transaction ([`Store::transact`]);
//! callers then [`Store::flush`] before acknowledging anything to anyone.
//!
//! Trees (keys are documented in `codec.rs`):
//! - `meta`: schema version and counters; under `storm/<case>`, the storm window's clusters
//!   (the pipeline's near-duplicate signatures, written with the case changes they imply);
//!   under `spike`, the spike detector's usual volumes and spikes under way; under
//!   `skipped/<id>`, the bounded index of posts triage stored without a card (`skipped.rs`);
//! - `cases`: case id → `Case`;
//! - `posts`: (network, post id) → `StoredPost`, the dedupe index and the post → case index,
//!   keyed in time order since schema 4 (`codec::post_key`: the TID of a Bluesky URI, the
//!   length-prefixed number of a Mastodon or X id), so new posts land at the tree's end;
//!   since schema 5 the record of the post that opened a case is a 9-byte marker (tag, case
//!   id: `codec::opening_post_marker`) when `StoredPost::opening_of` its case derives it exactly;
//! - `events`: (case, seq) → `CaseEvent`, the append-only log per case; since schema 5 a
//!   case's opening event (seq 0) is not stored when the case derives it exactly
//!   (`CaseEvent::opening_of`): `events`/`event` return the derived one (older stores keep theirs);
//! - `outbox`: (lane, seq) → `OutboxEntry`, side effects waiting to be executed;
//! - `cursors`: source name → the source's resume cursor;
//! - the customer index ((customer hash, case id), what `customer_context` reads) is not a
//!   tree: it is held in memory, built at open from the customer hash in each
//!   `cases_by_opened` value and kept up to date after each commit (see `customers.rs`);
//!   schema 5 removed the older stores' `customers/` Db and `authors` tree;
//! - `labels`: (network, post id) → a label given by the team, for training (keyed as `posts`);
//! - `chat`: (chat, key) → opaque bytes an adapter keeps (the console's messages);
//! - `audit`: (time, seq) → `AuditRecord`, append-only: every public reply sent or failed,
//!   every escalation and its delivery, written in the transaction of the event it records;
//! - `counters`: name → a u64 that only grows (a source's monthly API budget use, e.g.
//!   `x-budget/<source>/<yyyy-mm>/reads`).
//! - `models`: name → a model's bytes (the learned triage model, written by `train`).
//! - `cases_by_opened`: (opened-at millis, case id) → the case's state and SLA flag, its
//!   customer's hash (schema 5), then its `CaseSummary` (JSON), written by `Tx::put_case` with the case: a report over a time range
//!   is one range scan of this tree (no case or event reads), and the `stat/` counters in `meta` (cases by state, SLA breaches, mentions ingested by
//!   network, audit records by action) are kept in the same transaction as what they count.
//!
//! Values are JSON; in `cases`, `posts`, `events` and the summaries of `cases_by_opened` the
//! JSON is compressed (one zstd frame per value, with a dictionary shipped in the binary: see
//! [`compress`]). Plain JSON values (written before) read as well, so no migration is needed;
//! `export` writes plain JSON and `import` compresses it again.

mod codec;
pub mod compress;
mod customers;
#[cfg(test)]
mod customers_tests;
#[cfg(test)]
mod opening_tests;
#[cfg(test)]
mod posts_tests;
mod rekey;
mod skipped;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::domain::{
    AuditRecord, Case, CaseEvent, CaseId, CaseSummary, CustomerContext, EventKind, Label, Mention,
    PostRef, Triage,
};

pub use codec::SCHEMA_VERSION;
pub use skipped::{SkippedEntry, SKIPPED_KEPT};

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (IO, corruption).
    #[error("database error: {0}")]
    Database(#[from] sled::Error),
    /// A stored value could not be decoded or encoded.
    #[error("bad stored value in {tree}: {message}")]
    Codec {
        /// The tree.
        tree: &'static str,
        /// What serde said.
        message: String,
    },
    /// Another process (a running mentiondesk) holds the store's lock.
    #[error("the store at {path} is in use by a running mentiondesk")]
    Locked {
        /// The store's path.
        path: String,
    },
    /// An import was asked into a store that already holds data.
    #[error("the store at {path} is not empty: import only restores into a new, empty store")]
    NotEmpty {
        /// The store's path.
        path: String,
    },
    /// A dump line could not be read.
    #[error("line {line} of the dump: {message}")]
    Dump {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The store was written by a newer mentiondesk.
    #[error("the store at {path} has schema version {found}, but this mentiondesk understands up to {supported}: upgrade mentiondesk or point [store].path elsewhere")]
    NewerSchema {
        /// The store's path.
        path: String,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
}

/// An error inside a transaction closure: a conflict (sled retries) or an abort.
pub type TxError = ConflictableTransactionError<StoreError>;

/// What the store knows about a post it has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPost {
    /// The case the post belongs to, if any.
    pub case: Option<CaseId>,
    /// Whose post it is.
    pub origin: PostOrigin,
    /// Triage's verdict, for customer posts that were triaged.
    pub triage: Option<Triage>,
    /// The post itself, for audit (absent for our own replies, and for the post that opened
    /// a case: the case's `opening` holds it; older stores may have both).
    pub mention: Option<Mention>,
    /// When we stored it.
    pub stored_at: DateTime<Utc>,
}

impl StoredPost {
    /// The record of the post that opened `case`, as the pipeline writes it, derived from
    /// what the case keeps and never changes (its id, triage's verdict, its opening time; the
    /// post itself is the case's `opening`). The store (schema 5) writes a marker instead of
    /// a record equal to this one, and reads derive it back.
    pub fn opening_of(case: &Case) -> StoredPost {
        StoredPost {
            case: Some(case.id),
            origin: PostOrigin::Customer,
            triage: Some(case.triage.clone()),
            mention: None,
            stored_at: case.opened_at,
        }
    }
}

/// Whose post a stored post is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostOrigin {
    /// Someone else's post.
    Customer,
    /// The brand's account, posted without the bot.
    Brand,
    /// A public reply the bot posted.
    Ours,
}

/// A side effect waiting to be executed by an outbox worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The case it is about.
    pub case: CaseId,
    /// What to do.
    pub task: OutboxTask,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// The last failure, for operators.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// The side effects the outbox knows how to execute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboxTask {
    /// Post the case's card, or edit it in place if already posted, from the current case.
    SyncCard,
    /// Post one event of the case's log in the card's thread.
    ThreadNote {
        /// The event's sequence number.
        seq: u32,
    },
    /// Post the linked card in an escalation target's channel.
    EscalationCard {
        /// The target's config id.
        target: String,
    },
    /// Call an escalation target's signed webhook.
    Webhook {
        /// The target's config id.
        target: String,
    },
    /// Post the case's pending public reply on the network.
    PublicReply {
        /// The pending reply's id.
        reply_id: String,
    },
    /// Post or edit a kudos card in the chat's kudos channel (the entry's case is unused).
    KudosCard {
        /// The kudos id.
        kudos: u64,
    },
}

/// Counters the store keeps in the transaction of what they count (`stat/` keys in `meta`),
/// so they are exact and survive restarts: the Prometheus metrics read them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreStats {
    /// Customers' posts stored, by network name.
    pub ingested: BTreeMap<String, u64>,
    /// Cases by state (snake_case name), every state present.
    pub cases_by_state: BTreeMap<String, u64>,
    /// First-response deadlines that passed unanswered.
    pub sla_breaches: u64,
    /// Audit records by action (`reply_sent`, `reply_failed`, ...).
    pub audit: BTreeMap<String, u64>,
}

/// An outbox entry's key: its lane and its position in the lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxKey(Vec<u8>);

impl OutboxKey {
    /// Its position in the lane (the sequence number after the lane's name).
    fn seq(&self) -> u64 {
        codec::outbox_seq(&self.0)
    }
}

/// A label the team gave a post, kept for retraining triage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRecord {
    /// The post's text.
    pub text: String,
    /// The label.
    pub label: Label,
    /// Who gave it (agent id).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The store handle. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    cases: sled::Tree,
    posts: sled::Tree,
    events: sled::Tree,
    outbox: sled::Tree,
    cursors: sled::Tree,
    /// The customer index, in memory (see `customers.rs`).
    customers: Arc<customers::CustomerIndex>,
    /// The thread that builds it at open (stopped and joined when the last clone drops).
    customer_build: Arc<Option<customers::Build>>,
    labels: sled::Tree,
    chat: sled::Tree,
    counters: sled::Tree,
    models: sled::Tree,
    audit: sled::Tree,
    cases_by_opened: sled::Tree,
    /// An id from sled's generator taken at open: every outbox entry queued by this process has
    /// a higher sequence number (sled's ids only grow, across restarts too), every entry left by
    /// an earlier run a lower one.
    run_first_id: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// The view of the store inside one transaction. Reads see the transaction's own writes.
pub struct Tx<'a> {
    meta: &'a TransactionalTree,
    cases: &'a TransactionalTree,
    posts: &'a TransactionalTree,
    events: &'a TransactionalTree,
    outbox: &'a TransactionalTree,
    cursors: &'a TransactionalTree,
    labels: &'a TransactionalTree,
    audit: &'a TransactionalTree,
    cases_by_opened: &'a TransactionalTree,
    /// The new cases to add to the customer index once the transaction commits (`put_case`):
    /// a new `Tx`, so an empty list, for each attempt of the closure.
    noted: RefCell<Vec<customers::Entry>>,
    /// The opening events (`CaseEvent::opening_of`) and opening post records
    /// (`StoredPost::opening_of`) of the cases this transaction opened, as last written by
    /// `put_case`: `append_events` leaves out an event equal to one of them, and `put_post`
    /// writes a marker for a record equal to one, without reading the case back.
    openings: RefCell<Vec<(CaseEvent, StoredPost)>>,
}

impl Store {
    /// Opens (or creates) the store at `path`. Refuses a store written by a newer version.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::from_db(open_db(path)?, path)
    }

    /// A throwaway store that lives in memory and temp files until dropped (for `check`,
    /// which builds sources without touching the real store a running bot may hold).
    pub fn temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(db, Path::new("(temporary)"))
    }

    fn from_db(db: sled::Db, path: &Path) -> Result<Store, StoreError> {
        let mut store = Store {
            meta: db.open_tree("meta")?,
            cases: db.open_tree("cases")?,
            posts: db.open_tree("posts")?,
            events: db.open_tree("events")?,
            outbox: db.open_tree("outbox")?,
            cursors: db.open_tree("cursors")?,
            // Built below, once the store is migrated.
            customers: Arc::default(),
            customer_build: Arc::new(None),
            labels: db.open_tree("labels")?,
            chat: db.open_tree("chat")?,
            counters: db.open_tree("counters")?,
            models: db.open_tree("models")?,
            audit: db.open_tree("audit")?,
            cases_by_opened: db.open_tree("cases_by_opened")?,
            run_first_id: db.generate_id()?,
            db,
        };
        match store.meta.get(codec::SCHEMA_KEY)? {
            Some(bytes) => {
                let found = codec::decode_u32(&bytes);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path: path.display().to_string(),
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                if found < SCHEMA_VERSION {
                    store.migrate(found, path)?;
                }
            }
            None => {
                store
                    .meta
                    .insert(codec::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                store.db.flush()?;
            }
        }
        let (customers, build) = customers::CustomerIndex::build(store.cases_by_opened.clone())?;
        store.customers = customers;
        store.customer_build = Arc::new(Some(build));
        Ok(store)
    }

    /// Runs `work` as one atomic transaction over every tree. sled may run the closure more
    /// than once when transactions conflict, so it must not have effects outside `Tx`.
    /// Once it commits, the cases it opened go into the customer index (`customers.rs`).
    pub fn transact<R>(&self, work: impl Fn(&Tx) -> Result<R, TxError>) -> Result<R, StoreError> {
        let trees = (
            &self.meta,
            &self.cases,
            &self.posts,
            &self.events,
            &self.outbox,
            &self.cursors,
            &self.labels,
            &self.audit,
            &self.cases_by_opened,
        );
        trees
            .transaction(
                |(meta, cases, posts, events, outbox, cursors, labels, audit, cases_by_opened)| {
                    let tx = Tx {
                        meta,
                        cases,
                        posts,
                        events,
                        outbox,
                        cursors,
                        labels,
                        audit,
                        cases_by_opened,
                        noted: RefCell::default(),
                        openings: RefCell::default(),
                    };
                    let result = work(&tx)?;
                    Ok((result, tx.noted.into_inner()))
                },
            )
            .map(|(result, noted)| {
                if !noted.is_empty() {
                    self.customers.insert(noted);
                }
                result
            })
            .map_err(|error| match error {
                TransactionError::Abort(error) => error,
                TransactionError::Storage(error) => StoreError::Database(error),
            })
    }

    /// Makes everything written so far durable. Call before acknowledging anything.
    ///
    /// On tokio's blocking pool rather than sled's `flush_async` (which waits on a thread of
    /// sled's own): the same work, but tokio's paused clock does not jump ahead while a
    /// blocking task runs, so paused-time tests don't see timeouts fire during a disk flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|error| sled::Error::Io(std::io::Error::other(error.to_string())))??;
        Ok(())
    }

    /// A case by id.
    pub fn case(&self, id: CaseId) -> Result<Option<Case>, StoreError> {
        get_json(&self.cases, "cases", &codec::case_key(id))
    }

    /// Every case, oldest first.
    pub fn cases(&self) -> impl Iterator<Item = Result<Case, StoreError>> + '_ {
        self.cases.iter().values().map(|value| {
            let bytes = value?;
            decode("cases", &bytes)
        })
    }

    /// The cases not closed, in opening order: the `cases_by_opened` index is scanned for
    /// their state byte (no summary is decompressed) and only those cases are read, so the
    /// cost is the index's length plus the open cases, not every case.
    pub fn open_cases(&self) -> impl Iterator<Item = Result<Case, StoreError>> + '_ {
        self.cases_by_opened.iter().filter_map(|item| {
            let (key, value) = match item {
                Ok(item) => item,
                Err(error) => return Some(Err(error.into())),
            };
            match codec::decode_opened_value(&value) {
                Some((state, _)) if state.is_closed() => None,
                _ => self.case(CaseId(codec::decode_u64(&key[8..]))).transpose(),
            }
        })
    }

    /// The cases opened in `[from, to)`, in opening order, read through the
    /// `cases_by_opened` index (the cost is the range's size, not the store's).
    pub fn cases_opened(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = Result<Case, StoreError>> + '_ {
        let range = opened_range(from, to);
        self.cases_by_opened.range(range).keys().filter_map(|key| {
            let key = match key {
                Ok(key) => key,
                Err(error) => return Some(Err(error.into())),
            };
            let id = CaseId(codec::decode_u64(&key[8..]));
            // An index entry always has its case (both are written in one transaction).
            self.case(id).transpose()
        })
    }

    /// The summaries of the cases opened in `[from, to)`, in opening order: one range scan of
    /// the `cases_by_opened` index, whose values carry them (what a report reads).
    pub fn case_summaries(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = Result<CaseSummary, StoreError>> + '_ {
        let range = opened_range(from, to);
        self.cases_by_opened
            .range(range)
            .values()
            .map(|value| decode_summary(&value?))
    }

    /// The counters kept with the data they count (see [`StoreStats`]).
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats::default();
        for item in self.meta.scan_prefix(b"stat/") {
            let (key, value) = item?;
            let value = codec::decode_u64(&value);
            let key = String::from_utf8_lossy(&key);
            let mut parts = key.splitn(3, '/').skip(1);
            match (parts.next(), parts.next()) {
                (Some("ingested"), Some(network)) => {
                    stats.ingested.insert(network.to_string(), value);
                }
                (Some("cases"), Some(state)) => {
                    stats.cases_by_state.insert(state.to_string(), value);
                }
                (Some("audit"), Some(action)) => {
                    stats.audit.insert(action.to_string(), value);
                }
                (Some("sla_breaches"), None) => stats.sla_breaches = value,
                _ => {}
            }
        }
        for state in codec::STATES {
            stats
                .cases_by_state
                .entry(codec::state_name(state).to_string())
                .or_insert(0);
        }
        Ok(stats)
    }

    /// How many side effects wait in each outbox lane (dead letters under `dead/<lane>`).
    pub fn outbox_depth_by_lane(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut depth = BTreeMap::new();
        for key in self.outbox.iter().keys() {
            let key = key?;
            let lane_end = key.iter().position(|&byte| byte == 0).unwrap_or(key.len());
            let lane = String::from_utf8_lossy(&key[..lane_end]).into_owned();
            *depth.entry(lane).or_insert(0) += 1;
        }
        Ok(depth)
    }

    /// Brings a store written by an older version up to date, then writes the schema version
    /// (a migration stopped halfway runs again on the next open):
    /// - below 3: [`Store::build_case_index`];
    /// - below 4: the `posts` and `labels` keys are moved to the time-ordered form (`rekey.rs`:
    ///   one pass over each tree, in batches; keys already moved are skipped);
    /// - below 5: each `cases_by_opened` value gets its customer's hash
    ///   ([`Store::add_customer_hashes`]), and the customer index kept on disk before (the
    ///   `customers/` Db in the store's directory, or an older store's `authors` tree) is
    ///   removed: the index is now built in memory from those hashes. Stored opening events
    ///   stay and read as before (since 5 new ones are derived from the case, not stored).
    fn migrate(&self, found: u32, path: &Path) -> Result<(), StoreError> {
        tracing::info!(from = found, to = SCHEMA_VERSION, "Upgrading the store");
        if found < 3 {
            self.build_case_index(found)?;
        }
        if found < 4 {
            let posts = rekey::post_keys(&self.posts)?;
            let labels = rekey::post_keys(&self.labels)?;
            tracing::info!(posts, labels, "Keyed posts and labels in time order");
        }
        if found < 5 {
            let cases = self.add_customer_hashes()?;
            tracing::info!(cases, "Added the customer hash to the case index");
            if self.db.tree_names().iter().any(|name| name == b"authors") {
                self.db.drop_tree("authors")?;
            }
            let old_index = path.join("customers");
            if old_index.is_dir() {
                std::fs::remove_dir_all(&old_index).map_err(sled::Error::Io)?;
            }
        }
        self.meta
            .insert(codec::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Schema 5: adds the customer's hash to every `cases_by_opened` value without one, reading
    /// the customer from the case; in batches of 1,000, so a migration stopped halfway goes on
    /// where it stopped. A case that is missing or does not decode is logged and its index
    /// entry left as it is (its case stays out of the customer index). Returns how many
    /// values were rewritten.
    fn add_customer_hashes(&self) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct Customer {
            network: crate::domain::Network,
            customer: CustomerId,
        }
        #[derive(Deserialize)]
        struct CustomerId {
            id: String,
        }
        let mut rewritten = 0;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for item in self.cases_by_opened.iter() {
            let (key, value) = item?;
            if codec::opened_customer(&value).is_some() || key.len() != 16 {
                continue;
            }
            let id = codec::decode_u64(&key[8..]);
            let case = match get_json::<Customer>(
                &self.cases,
                "cases",
                &codec::case_key(CaseId(id)),
            ) {
                Ok(Some(case)) => case,
                Ok(None) => {
                    tracing::warn!(case = id, "An index entry without its case: left as it is");
                    continue;
                }
                Err(error) => {
                    tracing::warn!(case = id, %error, "Cannot read a case's customer: left as it is");
                    continue;
                }
            };
            let customer = codec::customer_hash(case.network, &case.customer.id);
            batch.insert(key, codec::opened_value_with_customer(&value, customer));
            pending += 1;
            rewritten += 1;
            if pending == 1_000 {
                self.cases_by_opened
                    .apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        self.cases_by_opened.apply_batch(batch)?;
        Ok(rewritten)
    }

    /// Schema 3 (one pass over the cases and their events: tens of seconds for a million
    /// cases): the `cases_by_opened` index is rebuilt with each case's summary (from the case
    /// and its events); below 2 (no `stat/` counters yet), the counters are counted from the
    /// cases, posts and audit records too.
    fn build_case_index(&self, found: u32) -> Result<(), StoreError> {
        tracing::info!("Building the case index with case summaries");
        let mut stats: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        self.cases_by_opened.clear()?;
        for item in self.cases.iter() {
            let (_, value) = item?;
            let case: Case = decode("cases", &value)?;
            let summary = CaseSummary::of(&case, &self.events(case.id)?);
            self.cases_by_opened.insert(
                codec::opened_key(case.opened_at.timestamp_millis(), case.id),
                codec::opened_value(
                    case.state,
                    case.sla_breached,
                    codec::customer_hash(case.network, &case.customer.id),
                    &encode("cases_by_opened", &summary)?,
                ),
            )?;
            *stats.entry(codec::stat_state_key(case.state)).or_default() += 1;
            if case.sla_breached {
                *stats
                    .entry(codec::STAT_SLA_BREACHES_KEY.to_vec())
                    .or_default() += 1;
            }
        }
        if found < 2 {
            for item in self.posts.iter() {
                let (key, value) = item?;
                let stored = decode_post(&value, |id| self.case(id), |error| error)?;
                let network = key
                    .iter()
                    .position(|&byte| byte == 0)
                    .and_then(|end| std::str::from_utf8(&key[..end]).ok())
                    .and_then(|name| name.parse::<crate::domain::Network>().ok());
                if let (PostOrigin::Customer, Some(network)) = (stored.origin, network) {
                    *stats.entry(codec::stat_ingested_key(network)).or_default() += 1;
                }
            }
            for item in self.audit.iter() {
                let (_, value) = item?;
                let record: AuditRecord = decode("audit", &value)?;
                *stats
                    .entry(codec::stat_audit_key(record.action))
                    .or_default() += 1;
            }
            for (key, value) in stats {
                self.meta.insert(key, &value.to_be_bytes())?;
            }
        }
        Ok(())
    }

    /// Per tree: its name, record count, and the bytes of its keys and of its values (as
    /// stored). A full scan: for benches and diagnosis.
    pub fn tree_sizes(&self) -> Result<Vec<(String, u64, u64, u64)>, StoreError> {
        let mut names = self.db.tree_names();
        names.sort();
        let mut sizes = Vec::new();
        for name in names {
            let (mut count, mut keys, mut values) = (0, 0, 0);
            for item in self.db.open_tree(&name)?.iter() {
                let (key, value) = item?;
                count += 1;
                keys += key.len() as u64;
                values += value.len() as u64;
            }
            sizes.push((
                String::from_utf8_lossy(&name).into_owned(),
                count,
                keys,
                values,
            ));
        }
        Ok(sizes)
    }

    /// A case's events, in order (the opening event derived from the case when it is not
    /// stored: see [`Tx::append_events`]).
    pub fn events(&self, id: CaseId) -> Result<Vec<CaseEvent>, StoreError> {
        let mut events = self
            .events
            .scan_prefix(codec::case_key(id))
            .values()
            .map(|value| decode("events", &value?))
            .collect::<Result<Vec<CaseEvent>, StoreError>>()?;
        if !matches!(events.first(), Some(event) if event.seq == 0) {
            if let Some(case) = self.case(id)? {
                events.insert(0, CaseEvent::opening_of(&case));
            }
        }
        Ok(events)
    }

    /// One event of a case (seq 0 derived from the case when it is not stored).
    pub fn event(&self, id: CaseId, seq: u32) -> Result<Option<CaseEvent>, StoreError> {
        let stored = get_json(&self.events, "events", &codec::event_key(id, seq))?;
        if stored.is_some() || seq != 0 {
            return Ok(stored);
        }
        Ok(self.case(id)?.map(|case| CaseEvent::opening_of(&case)))
    }

    /// What the store knows about a post (a marker read as its case's opening post record).
    pub fn post(&self, post: &PostRef) -> Result<Option<StoredPost>, StoreError> {
        self.posts
            .get(codec::post_key(post))?
            .map(|bytes| decode_post(&bytes, |id| self.case(id), |error| error))
            .transpose()
    }

    /// How many posts the store has seen.
    pub fn post_count(&self) -> usize {
        self.posts.len()
    }

    /// A source's resume cursor.
    pub fn cursor(&self, source: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .cursors
            .get(source.as_bytes())?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The first `limit` entries of an outbox lane, in queue order.
    pub fn outbox_lane(
        &self,
        lane: &str,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        self.outbox
            .scan_prefix(codec::lane_prefix(lane))
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                Ok((OutboxKey(key.to_vec()), decode("outbox", &value)?))
            })
            .collect()
    }

    /// How many side effects wait in the outbox, over all lanes (dead letters included).
    pub fn outbox_depth(&self) -> usize {
        self.outbox.len()
    }

    /// How many entries the in-memory customer index holds (one per case; for benches and
    /// diagnosis).
    pub fn customer_index_entries(&self) -> usize {
        self.customers.len()
    }

    /// Earlier cases by the customer of `case`.
    pub fn customer_context(&self, case: &Case) -> Result<CustomerContext, StoreError> {
        let customer = codec::customer_hash(case.network, &case.customer.id);
        let ids = self.customers.cases_of(customer);
        let mut context = CustomerContext::default();
        for id in ids.into_iter().filter(|&id| id < case.id.0) {
            let Some(other) = self.case(CaseId(id))? else {
                continue;
            };
            // Not another customer with the same hash.
            if other.network == case.network && other.customer.id == case.customer.id {
                context.earlier.push((other.id, other.state));
                context.earlier_opened.push(other.opened_at);
                context.last_cards = other.chat_refs;
            }
        }
        Ok(context)
    }

    /// Stores an adapter's value under (chat, key), durably.
    pub async fn chat_put(&self, chat: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.chat_put_lazily(chat, key, value)?;
        self.flush().await
    }

    /// Stores an adapter's value under (chat, key) without waiting for the disk: it is durable
    /// after the next flush (anyone's, or sled's own within half a second), and may be lost in
    /// a crash before that.
    pub fn chat_put_lazily(&self, chat: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.chat.insert(codec::chat_key(chat, key), value)?;
        Ok(())
    }

    /// Removes an adapter's value (and flushes).
    pub async fn chat_remove(&self, chat: &str, key: &str) -> Result<(), StoreError> {
        self.chat_remove_lazily(chat, key)?;
        self.flush().await
    }

    /// Removes an adapter's value without waiting for the disk (see `chat_put_lazily`).
    pub fn chat_remove_lazily(&self, chat: &str, key: &str) -> Result<(), StoreError> {
        self.chat.remove(codec::chat_key(chat, key))?;
        Ok(())
    }

    /// Whether an outbox entry was queued before this process opened the store: an earlier
    /// run may have executed it (in part) and died before recording so.
    pub fn queued_by_an_earlier_run(&self, key: &OutboxKey) -> bool {
        key.seq() < self.run_first_id
    }

    /// An adapter's value.
    pub fn chat_get(&self, chat: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .chat
            .get(codec::chat_key(chat, key))?
            .map(|v| v.to_vec()))
    }

    /// An adapter's values whose keys start with `prefix`, in key order: (key, value).
    pub fn chat_scan(
        &self,
        chat: &str,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let chat_prefix_len = codec::chat_key(chat, "").len();
        self.chat
            .scan_prefix(codec::chat_key(chat, prefix))
            .map(|item| {
                let (key, value) = item?;
                let key = String::from_utf8_lossy(&key[chat_prefix_len..]).into_owned();
                Ok((key, value.to_vec()))
            })
            .collect()
    }

    /// A counter's value (0 when it was never added to).
    pub fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self
            .counters
            .get(name.as_bytes())?
            .map(|bytes| codec::decode_u64(&bytes))
            .unwrap_or(0))
    }

    /// Adds `amount` to a counter atomically and durably; returns the new value. Counters
    /// live outside [`Store::transact`]: they meter use of an outside service, which happened
    /// whether or not anything else was stored.
    pub async fn add_to_counter(&self, name: &str, amount: u64) -> Result<u64, StoreError> {
        let updated = self.counters.update_and_fetch(name.as_bytes(), |old| {
            let current = old.map(codec::decode_u64).unwrap_or(0);
            Some(current.saturating_add(amount).to_be_bytes().to_vec())
        })?;
        self.flush().await?;
        Ok(updated.map(|bytes| codec::decode_u64(&bytes)).unwrap_or(0))
    }

    /// The audit records from `since` on, oldest first.
    pub fn audit_since(&self, since: DateTime<Utc>) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit
            .range(codec::audit_prefix(since.timestamp_millis())..)
            .values()
            .map(|value| decode("audit", &value?))
            .collect()
    }

    /// The storm window's clusters, by case number (see `pipeline::storm`).
    pub fn storm_clusters<T: DeserializeOwned>(&self) -> Result<Vec<T>, StoreError> {
        self.meta
            .scan_prefix(codec::STORM_PREFIX)
            .values()
            .map(|value| decode("meta", &value?))
            .collect()
    }

    /// The spike detector's saved state (see `pipeline::spike`).
    pub fn spike_state<T: DeserializeOwned>(&self) -> Result<Option<T>, StoreError> {
        get_json(&self.meta, "meta", codec::SPIKE_KEY)
    }

    /// A kudos by id.
    pub fn kudos(&self, id: u64) -> Result<Option<crate::domain::Kudos>, StoreError> {
        get_json(&self.meta, "meta", &codec::kudos_key(id))
    }

    /// Labels the team gave, for training.
    pub fn labels(&self) -> impl Iterator<Item = Result<LabelRecord, StoreError>> + '_ {
        self.labels
            .iter()
            .values()
            .map(|value| decode("labels", &value?))
    }

    /// How many labels the team gave.
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// Saves a model's bytes under `name`, replacing the previous one, and flushes.
    pub async fn put_model(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.models.insert(name.as_bytes(), bytes)?;
        self.flush().await
    }

    /// A saved model's bytes.
    pub fn model(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .models
            .get(name.as_bytes())?
            .map(|bytes| bytes.to_vec()))
    }
}

/// One record of a dump: its tree, its key and its value. Keys that are printable UTF-8 are
/// written as `key`, others as `key_hex`; values that are JSON are written as `value` (the
/// stored bytes verbatim), others (counters, cursors, adapter bytes) as `value_hex`.
#[derive(Serialize, Deserialize)]
struct DumpLine<'a> {
    tree: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_hex: Option<String>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    value: Option<&'a serde_json::value::RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_hex: Option<String>,
}

/// sled's own default tree, which mentiondesk never writes.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

impl Store {
    /// Writes every record of every tree as JSON lines, tree by tree in name order, keys in
    /// order; returns how many records were written.
    pub fn export(&self, out: &mut dyn std::io::Write) -> Result<usize, StoreError> {
        let mut names = self.db.tree_names();
        names.sort();
        let mut count = 0;
        for name in names {
            let tree = self.db.open_tree(&name)?;
            let tree_name = String::from_utf8_lossy(&name).into_owned();
            for item in tree.iter() {
                let (key, value) = item?;
                let value =
                    plain_value(&tree_name, &value).map_err(|message| StoreError::Codec {
                        tree: "dump",
                        message: format!("{tree_name}: {message}"),
                    })?;
                let readable_key = std::str::from_utf8(&key)
                    .ok()
                    .filter(|text| !text.is_empty() && !text.chars().any(char::is_control));
                let raw = serde_json::from_slice::<&serde_json::value::RawValue>(&value)
                    .ok()
                    .filter(|raw| raw.get().as_bytes() == value.as_ref());
                let line = DumpLine {
                    tree: tree_name.clone(),
                    key: readable_key.map(str::to_string),
                    key_hex: readable_key.is_none().then(|| hex::encode(&key)),
                    value: raw,
                    value_hex: raw.is_none().then(|| hex::encode(&value)),
                };
                let mut text = serde_json::to_vec(&line).map_err(|error| StoreError::Codec {
                    tree: "dump",
                    message: error.to_string(),
                })?;
                text.push(b'\n');
                out.write_all(&text)
                    .map_err(|error| StoreError::Database(sled::Error::Io(error)))?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Restores a dump written by [`Store::export`] into the store at `path`, which must be
    /// new or empty; returns how many records were written. Every line is checked before
    /// the first write, so a broken dump leaves the store empty.
    pub fn import(path: &Path, input: impl std::io::BufRead) -> Result<usize, StoreError> {
        let db = open_db(path)?;
        for name in db.tree_names() {
            if !db.open_tree(&name)?.is_empty() {
                return Err(StoreError::NotEmpty {
                    path: path.display().to_string(),
                });
            }
        }
        let mut records: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut text = String::new();
        for (index, line) in input.lines().enumerate() {
            let dump_error = |message: String| StoreError::Dump {
                line: index + 1,
                message,
            };
            let line = line.map_err(|error| dump_error(error.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            text.clear();
            text.push_str(&line);
            let parsed: DumpLine =
                serde_json::from_str(&text).map_err(|error| dump_error(error.to_string()))?;
            let key = match (parsed.key, parsed.key_hex) {
                (Some(key), None) => key.into_bytes(),
                (None, Some(key_hex)) => {
                    hex::decode(key_hex).map_err(|error| dump_error(format!("key_hex: {error}")))?
                }
                _ => return Err(dump_error("expected one of key and key_hex".to_string())),
            };
            let value = match (parsed.value, parsed.value_hex) {
                (Some(raw), None) => raw.get().as_bytes().to_vec(),
                (None, Some(value_hex)) => hex::decode(value_hex)
                    .map_err(|error| dump_error(format!("value_hex: {error}")))?,
                _ => {
                    return Err(dump_error(
                        "expected one of value and value_hex".to_string(),
                    ))
                }
            };
            let value = stored_value(&parsed.tree, value).map_err(dump_error)?;
            if parsed.tree.as_bytes() == SLED_DEFAULT_TREE {
                continue;
            }
            records.push((parsed.tree, key, value));
        }
        if let Some((_, _, bytes)) = records
            .iter()
            .find(|(tree, key, _)| tree == "meta" && key.as_slice() == codec::SCHEMA_KEY)
        {
            let found = codec::decode_u32(bytes);
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path: "the dump".to_string(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
        }
        for (tree, key, value) in &records {
            db.open_tree(tree.as_bytes())?
                .insert(key.as_slice(), value.as_slice())?;
        }
        db.flush()?;
        Ok(records.len())
    }
}

impl Tx<'_> {
    /// A case by id.
    pub fn case(&self, id: CaseId) -> Result<Option<Case>, TxError> {
        tx_get_json(self.cases, "cases", &codec::case_key(id))
    }

    /// Writes a case, its `cases_by_opened` entry (with the case's summary and customer hash)
    /// and the counters its change moves (cases by state, SLA breaches). A new case goes into
    /// the customer index once the transaction commits.
    pub fn put_case(&self, case: &Case) -> Result<(), TxError> {
        tx_put_json(self.cases, "cases", &codec::case_key(case.id), case)?;
        let index_key = codec::opened_key(case.opened_at.timestamp_millis(), case.id);
        let previous = self.cases_by_opened.get(index_key)?;
        // The summary's claims and webhook outcomes come from the events (`append_events`).
        let kept = match &previous {
            Some(bytes) => decode_summary(bytes).ok(),
            None => None,
        };
        let customer = codec::customer_hash(case.network, &case.customer.id);
        let value = codec::opened_value(
            case.state,
            case.sla_breached,
            customer,
            &encode("cases_by_opened", &CaseSummary::updated(case, kept))
                .map_err(ConflictableTransactionError::Abort)?,
        );
        let mut openings = self.openings.borrow_mut();
        let opened_here = openings.iter().position(|(event, _)| event.case == case.id);
        let derived = (CaseEvent::opening_of(case), StoredPost::opening_of(case));
        match (opened_here, &previous) {
            (Some(index), _) => openings[index] = derived,
            (None, None) => {
                openings.push(derived);
                self.noted.borrow_mut().push((customer, case.id.0));
            }
            (None, Some(_)) => {}
        }
        drop(openings);
        if previous.as_deref() == Some(value.as_slice()) {
            return Ok(());
        }
        let before = previous.and_then(|bytes| codec::decode_opened_value(&bytes));
        self.cases_by_opened.insert(&index_key, value)?;
        if before == Some((case.state, case.sla_breached)) {
            return Ok(());
        }
        match before {
            Some((state, _)) if state == case.state => {}
            Some((state, _)) => {
                self.add_stat(&codec::stat_state_key(state), -1)?;
                self.add_stat(&codec::stat_state_key(case.state), 1)?;
            }
            None => self.add_stat(&codec::stat_state_key(case.state), 1)?,
        }
        let breached_before = before.is_some_and(|(_, breached)| breached);
        if case.sla_breached && !breached_before {
            self.add_stat(codec::STAT_SLA_BREACHES_KEY, 1)?;
        }
        Ok(())
    }

    fn add_stat(&self, key: &[u8], delta: i64) -> Result<(), TxError> {
        let value = self
            .meta
            .get(key)?
            .map(|bytes| codec::decode_u64(&bytes))
            .unwrap_or(0);
        let next = value.saturating_add_signed(delta);
        self.meta.insert(key, &next.to_be_bytes())?;
        Ok(())
    }

    /// Takes the next case number (gapless: the counter is part of the transaction).
    pub fn next_case_id(&self) -> Result<CaseId, TxError> {
        let next = self
            .meta
            .get(codec::NEXT_CASE_KEY)?
            .map(|bytes| codec::decode_u64(&bytes))
            .unwrap_or(1);
        self.meta
            .insert(codec::NEXT_CASE_KEY, &(next + 1).to_be_bytes())?;
        Ok(CaseId(next))
    }

    /// What the store knows about a post (a marker read as its case's opening post record).
    pub fn post(&self, post: &PostRef) -> Result<Option<StoredPost>, TxError> {
        self.posts
            .get(codec::post_key(post))?
            .map(|bytes| {
                decode_post(
                    &bytes,
                    |id| self.case(id),
                    ConflictableTransactionError::Abort,
                )
            })
            .transpose()
    }

    /// Records a post (a customer's post seen for the first time counts as ingested). A
    /// record that is exactly [`StoredPost::opening_of`] its case (schema 5) is written as a
    /// marker (`codec::opening_post_marker`): the readers derive it from the case.
    pub fn put_post(&self, post: &PostRef, stored: &StoredPost) -> Result<(), TxError> {
        let key = codec::post_key(post);
        let new = stored.origin == PostOrigin::Customer && self.posts.get(&key)?.is_none();
        match self.implicit_opening_post(stored)? {
            Some(id) => {
                self.posts
                    .insert(key.as_slice(), &codec::opening_post_marker(id))?;
            }
            None => tx_put_json(self.posts, "posts", &key, stored)?,
        }
        if new {
            self.add_stat(&codec::stat_ingested_key(post.network), 1)?;
        }
        Ok(())
    }

    /// Appends events to their cases' logs; claims and webhook outcomes also go into the
    /// case's summary in `cases_by_opened` (write the case first). A case's opening event is
    /// not written when it is exactly [`CaseEvent::opening_of`] its case (schema 5): the
    /// readers derive it; any other event, or one whose case is missing, is written.
    pub fn append_events(&self, events: &[CaseEvent]) -> Result<(), TxError> {
        for event in events {
            if self.is_implicit_opening(event)? {
                continue;
            }
            tx_put_json(
                self.events,
                "events",
                &codec::event_key(event.case, event.seq),
                event,
            )?;
            if CaseSummary::notes(event) {
                self.note_in_summary(event)?;
            }
        }
        Ok(())
    }

    /// Whether `event` is its case's opening event as the readers derive it from the case
    /// (from the case this transaction wrote, else read back).
    fn is_implicit_opening(&self, event: &CaseEvent) -> Result<bool, TxError> {
        if event.seq != 0 || !matches!(event.kind, EventKind::Opened { .. }) {
            return Ok(false);
        }
        if let Some((opening, _)) = self
            .openings
            .borrow()
            .iter()
            .find(|(opening, _)| opening.case == event.case)
        {
            return Ok(opening == event);
        }
        Ok(self
            .case(event.case)?
            .is_some_and(|case| CaseEvent::opening_of(&case) == *event))
    }

    /// The case whose opening post record `stored` is, exactly as the readers derive it
    /// (from the case this transaction wrote, else read back); `None` for any other record.
    fn implicit_opening_post(&self, stored: &StoredPost) -> Result<Option<CaseId>, TxError> {
        let Some(id) = stored.case else {
            return Ok(None);
        };
        if stored.mention.is_some() || stored.origin != PostOrigin::Customer {
            return Ok(None);
        }
        let stashed = self
            .openings
            .borrow()
            .iter()
            .find(|(event, _)| event.case == id)
            .map(|(_, post)| post == stored);
        let derivable = match stashed {
            Some(equal) => equal,
            None => self
                .case(id)?
                .is_some_and(|case| StoredPost::opening_of(&case) == *stored),
        };
        Ok(derivable.then_some(id))
    }

    /// Folds an event into its case's summary in `cases_by_opened` (write the case first:
    /// the index entry is keyed by its opening time). Rare: claims and webhook outcomes.
    fn note_in_summary(&self, event: &CaseEvent) -> Result<(), TxError> {
        #[derive(Deserialize)]
        struct Opening {
            opened_at: DateTime<Utc>,
        }
        let Some(case) = tx_get_json::<Opening>(self.cases, "cases", &codec::case_key(event.case))?
        else {
            return Ok(());
        };
        let key = codec::opened_key(case.opened_at.timestamp_millis(), event.case);
        let Some(value) = self.cases_by_opened.get(key)? else {
            return Ok(());
        };
        let mut summary = decode_summary(&value).map_err(ConflictableTransactionError::Abort)?;
        summary.note(event);
        let json =
            encode("cases_by_opened", &summary).map_err(ConflictableTransactionError::Abort)?;
        let mut next = codec::opened_parts(&value).0.to_vec();
        next.extend_from_slice(&json);
        self.cases_by_opened.insert(&key, next)?;
        Ok(())
    }

    /// Queues a side effect at the end of `lane`.
    pub fn enqueue(&self, lane: &str, entry: &OutboxEntry) -> Result<(), TxError> {
        let seq = self.outbox.generate_id()?;
        tx_put_json(self.outbox, "outbox", &codec::outbox_key(lane, seq), entry)
    }

    /// Removes an executed side effect.
    pub fn complete(&self, key: &OutboxKey) -> Result<(), TxError> {
        self.outbox.remove(key.0.as_slice())?;
        Ok(())
    }

    /// Replaces an entry (after a failed attempt).
    pub fn update_entry(&self, key: &OutboxKey, entry: &OutboxEntry) -> Result<(), TxError> {
        tx_put_json(self.outbox, "outbox", &key.0, entry)
    }

    /// Moves an entry that keeps failing out of its lane, so the lane moves on.
    pub fn bury(&self, key: &OutboxKey, lane: &str, entry: &OutboxEntry) -> Result<(), TxError> {
        self.outbox.remove(key.0.as_slice())?;
        let seq = self.outbox.generate_id()?;
        tx_put_json(
            self.outbox,
            "outbox",
            &codec::outbox_key(&format!("dead/{lane}"), seq),
            entry,
        )
    }

    /// Sets a source's resume cursor.
    pub fn set_cursor(&self, source: &str, cursor: &str) -> Result<(), TxError> {
        self.cursors.insert(source.as_bytes(), cursor.as_bytes())?;
        Ok(())
    }

    /// Appends records to the audit log.
    pub fn append_audit(&self, records: &[AuditRecord]) -> Result<(), TxError> {
        for record in records {
            let seq = self.audit.generate_id()?;
            tx_put_json(
                self.audit,
                "audit",
                &codec::audit_key(record.at.timestamp_millis(), seq),
                record,
            )?;
            self.add_stat(&codec::stat_audit_key(record.action), 1)?;
        }
        Ok(())
    }

    /// Writes a storm cluster (see `pipeline::storm`), keyed by its case.
    pub fn put_storm_cluster<T: Serialize>(
        &self,
        case: CaseId,
        cluster: &T,
    ) -> Result<(), TxError> {
        tx_put_json(self.meta, "meta", &codec::storm_key(case), cluster)
    }

    /// Removes the storm cluster of a case (expired, or its case was closed).
    pub fn remove_storm_cluster(&self, case: CaseId) -> Result<(), TxError> {
        self.meta.remove(codec::storm_key(case))?;
        Ok(())
    }

    /// Writes the spike detector's state (see `pipeline::spike`), replacing the previous one.
    pub fn put_spike_state<T: Serialize>(&self, state: &T) -> Result<(), TxError> {
        tx_put_json(self.meta, "meta", codec::SPIKE_KEY, state)
    }

    /// Takes the next kudos id.
    pub fn next_kudos_id(&self) -> Result<u64, TxError> {
        self.next_in_sequence(codec::NEXT_KUDOS_KEY)
    }

    /// Takes the next number of the gapless sequence kept under `key` in `meta` (from 1).
    fn next_in_sequence(&self, key: &[u8]) -> Result<u64, TxError> {
        let next = self
            .meta
            .get(key)?
            .map(|bytes| codec::decode_u64(&bytes))
            .unwrap_or(1);
        self.meta.insert(key, &(next + 1).to_be_bytes())?;
        Ok(next)
    }

    /// A kudos by id.
    pub fn kudos(&self, id: u64) -> Result<Option<crate::domain::Kudos>, TxError> {
        tx_get_json(self.meta, "meta", &codec::kudos_key(id))
    }

    /// Writes a kudos.
    pub fn put_kudos(&self, kudos: &crate::domain::Kudos) -> Result<(), TxError> {
        tx_put_json(self.meta, "meta", &codec::kudos_key(kudos.id), kudos)
    }

    /// Records a label the team gave a post.
    pub fn put_label(&self, post: &PostRef, label: &LabelRecord) -> Result<(), TxError> {
        tx_put_json(self.labels, "labels", &codec::post_key(post), label)
    }
}

/// Opens sled, waiting briefly while a previous handle in this process releases the file
/// lock (sled's background threads let go of it shortly after the last handle is dropped).
fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    open_db_with(&sled::Config::new().path(path), path)
}

/// [`open_db`] with a given configuration (the customer index's, `customers.rs`).
fn open_db_with(config: &sled::Config, path: &Path) -> Result<sled::Db, StoreError> {
    let mut attempts = 0;
    loop {
        match config.open() {
            Err(sled::Error::Io(error)) if error.to_string().contains("could not acquire lock") => {
                if attempts >= 100 {
                    return Err(StoreError::Locked {
                        path: path.display().to_string(),
                    });
                }
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return Ok(result?),
        }
    }
}

/// The `cases_by_opened` keys of `[from, to)`; empty when `to` is not after `from`.
fn opened_range(from: DateTime<Utc>, to: DateTime<Utc>) -> std::ops::Range<[u8; 8]> {
    let start = codec::opened_prefix(from.timestamp_millis());
    let end = codec::opened_prefix(to.timestamp_millis());
    if start < end {
        start..end
    } else {
        start..start
    }
}

/// The trees whose values (in `cases_by_opened`: the summary after the two bytes of state)
/// are compressed JSON.
const COMPRESSED_TREES: [&str; 4] = ["cases", "posts", "events", "cases_by_opened"];

/// Decodes a stored value: compressed or plain JSON (see [`compress`]).
fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    let json =
        compress::decompress(bytes).map_err(|message| StoreError::Codec { tree, message })?;
    serde_json::from_slice(&json).map_err(|error| StoreError::Codec {
        tree,
        message: error.to_string(),
    })
}

/// Decodes a `posts` value: a record's JSON, or a marker (`codec::opening_post_marker`)
/// expanded from its case, read with `case` ([`StoredPost::opening_of`]); a marker whose case
/// is missing is a codec error (`abort` makes a [`StoreError`] the caller's error).
fn decode_post<E>(
    bytes: &[u8],
    case: impl FnOnce(CaseId) -> Result<Option<Case>, E>,
    abort: fn(StoreError) -> E,
) -> Result<StoredPost, E> {
    let Some(id) = codec::opening_post_case(bytes) else {
        return decode("posts", bytes).map_err(abort);
    };
    match case(id)? {
        Some(case) => Ok(StoredPost::opening_of(&case)),
        None => Err(abort(StoreError::Codec {
            tree: "posts",
            message: format!("the opening post marker of case {id}, whose case is missing"),
        })),
    }
}

fn decode_summary(opened_value: &[u8]) -> Result<CaseSummary, StoreError> {
    decode("cases_by_opened", codec::opened_summary(opened_value))
}

/// Encodes a value as JSON, compressed in the [`COMPRESSED_TREES`].
fn encode<T: Serialize>(tree: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(value).map_err(|error| StoreError::Codec {
        tree,
        message: error.to_string(),
    })?;
    if COMPRESSED_TREES.contains(&tree) && compress::enabled() {
        compress::compress(&json).map_err(|message| StoreError::Codec { tree, message })
    } else {
        Ok(json)
    }
}

/// A stored value as a dump holds it: plain JSON (in `cases_by_opened`, the header of state,
/// flags and customer hash, then the summary's JSON).
fn plain_value<'a>(tree: &str, value: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
    if !COMPRESSED_TREES.contains(&tree) {
        return Ok(Cow::Borrowed(value));
    }
    match (tree, codec::opened_parts(value)) {
        ("cases_by_opened", (header, summary)) if compress::is_compressed(summary) => {
            let mut plain = header.to_vec();
            plain.extend_from_slice(&compress::decompress(summary)?);
            Ok(Cow::Owned(plain))
        }
        _ => compress::decompress(value),
    }
}

/// A dump's value as the store keeps it: compressed in the [`COMPRESSED_TREES`].
fn stored_value(tree: &str, value: Vec<u8>) -> Result<Vec<u8>, String> {
    if !COMPRESSED_TREES.contains(&tree) || compress::is_compressed(&value) {
        return Ok(value);
    }
    match (tree, codec::opened_parts(&value)) {
        ("cases_by_opened", (header, summary)) if summary.first() == Some(&b'{') => {
            let mut stored = header.to_vec();
            stored.extend_from_slice(&compress::compress(summary)?);
            Ok(stored)
        }
        ("cases_by_opened", _) => Ok(value),
        _ if matches!(value.first(), Some(b'{' | b'[')) => compress::compress(&value),
        _ => Ok(value),
    }
}

fn get_json<T: DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    tree.get(key)?.map(|bytes| decode(name, &bytes)).transpose()
}

fn tx_get_json<T: DeserializeOwned>(
    tree: &TransactionalTree,
    name: &'static str,
    key: &[u8],
) -> Result<Option<T>, TxError> {
    match tree.get(key)? {
        Some(bytes) => decode(name, &bytes)
            .map(Some)
            .map_err(ConflictableTransactionError::Abort),
        None => Ok(None),
    }
}

fn tx_put_json<T: Serialize>(
    tree: &TransactionalTree,
    name: &'static str,
    key: &[u8],
    value: &T,
) -> Result<(), TxError> {
    let bytes = encode(name, value).map_err(ConflictableTransactionError::Abort)?;
    tree.insert(key, bytes)?;
    Ok(())
}
