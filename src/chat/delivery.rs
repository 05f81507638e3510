//! What the networked chat adapters (Slack, Discord) share to deliver messages safely: the
//! idempotency records that let a post be found again after a crash, and per-channel pacing.
//!
//! Records live in the store's chat area under the adapter's name: `p/<key>` marks a post in
//! flight (the chat may have taken it), `k/<key>` holds the `MessageRef` once posted. A post
//! whose key is recorded is never made again; one whose marker is left behind is looked up in
//! the chat before posting again.
//!
//! The marker is written without waiting for the disk (an fsync before every post would sit
//! on every card's latency). A crash can lose it, but only for a post the outbox queued
//! before the crash: after a restart, the outbox names those entries' keys
//! (`ChatAdapter::may_have_posted`) and they count as in flight too, so they are looked up
//! before posting. The `k/` record is durable before the outbox entry is completed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::ChatError;
use crate::domain::MessageRef;
use crate::store::{Store, StoreError};

const POSTED_PREFIX: &str = "k/";
const PENDING_PREFIX: &str = "p/";

/// The posted / in-flight records of one chat adapter.
#[derive(Debug, Clone)]
pub struct PostRecords {
    store: Store,
    chat: &'static str,
    /// Keys an earlier run may have posted without its marker reaching the disk.
    unsure: Arc<Mutex<HashSet<String>>>,
}

impl PostRecords {
    /// The records of the adapter named `chat`.
    pub fn new(store: Store, chat: &'static str) -> PostRecords {
        PostRecords {
            store,
            chat,
            unsure: Arc::default(),
        }
    }

    /// Counts a post under `key` as possibly made (see the module doc).
    pub fn may_have_posted(&self, key: &str) {
        if let Ok(mut unsure) = self.unsure.lock() {
            unsure.insert(key.to_string());
        }
    }

    /// Where the message posted under `key` is, if it was recorded.
    pub fn recorded(&self, key: &str) -> Result<Option<MessageRef>, ChatError> {
        match self
            .store
            .chat_get(self.chat, &format!("{POSTED_PREFIX}{key}"))
            .map_err(|error| self.store_error(error))?
        {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                ChatError::Rejected(format!("bad {} record in the store: {error}", self.chat))
            }),
            None => Ok(None),
        }
    }

    /// Every recorded post whose key starts with `key_prefix`: (key, where it is).
    pub fn recorded_with_prefix(&self, key_prefix: &str) -> Vec<(String, MessageRef)> {
        let prefix = format!("{POSTED_PREFIX}{key_prefix}");
        self.store
            .chat_scan(self.chat, &prefix)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, value)| {
                let message = serde_json::from_slice(&value).ok()?;
                Some((key.strip_prefix(POSTED_PREFIX)?.to_string(), message))
            })
            .collect()
    }

    /// Whether a post under `key` may have reached the chat without being recorded.
    pub fn pending(&self, key: &str) -> Result<bool, ChatError> {
        if self
            .unsure
            .lock()
            .map(|unsure| unsure.contains(key))
            .unwrap_or(true)
        {
            return Ok(true);
        }
        Ok(self
            .store
            .chat_get(self.chat, &format!("{PENDING_PREFIX}{key}"))
            .map_err(|error| self.store_error(error))?
            .is_some())
    }

    /// Marks a post under `key` as in flight, before sending it (not waiting for the disk:
    /// see the module doc).
    pub fn set_pending(&self, key: &str) -> Result<(), ChatError> {
        self.store
            .chat_put_lazily(self.chat, &format!("{PENDING_PREFIX}{key}"), b"1")
            .map_err(|error| self.store_error(error))
    }

    /// Clears the in-flight marker (the chat certainly did not take the post, or it is
    /// recorded). Not waiting for the disk: a marker a crash brings back only costs a lookup.
    pub fn clear_pending(&self, key: &str) {
        if let Ok(mut unsure) = self.unsure.lock() {
            unsure.remove(key);
        }
        if let Err(error) = self
            .store
            .chat_remove_lazily(self.chat, &format!("{PENDING_PREFIX}{key}"))
        {
            tracing::warn!(chat = self.chat, key, error = %error, "Cannot clear a posting marker");
        }
    }

    /// Records where the post under `key` landed and clears its marker.
    pub async fn record(&self, key: &str, message: &MessageRef) -> Result<(), ChatError> {
        let bytes = serde_json::to_vec(message).map_err(|error| {
            ChatError::Rejected(format!("cannot encode a message ref: {error}"))
        })?;
        self.store
            .chat_put(self.chat, &format!("{POSTED_PREFIX}{key}"), &bytes)
            .await
            .map_err(|error| self.store_error(error))?;
        self.clear_pending(key);
        Ok(())
    }

    fn store_error(&self, error: StoreError) -> ChatError {
        ChatError::Transient(format!("{} records in the store: {error}", self.chat))
    }
}

/// Paces posts per channel: one per `interval`, allowing `burst` at once (a GCRA bucket).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    tolerance: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// A pacer allowing `burst` posts at once, then one per `interval`, per channel.
    pub fn new(interval: Duration, burst: u32) -> Pacer {
        Pacer {
            interval,
            tolerance: interval * burst.saturating_sub(1),
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the channel's next slot (and takes it).
    pub async fn wait(&self, channel: &str) {
        let send_at = {
            // Held for microseconds, never across an await; a panic elsewhere can't leave the
            // map inconsistent, so a poisoned lock is still usable.
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            let theoretical = next.get(channel).copied().unwrap_or(now).max(now);
            let earliest = theoretical
                .checked_sub(self.tolerance)
                .unwrap_or(now)
                .max(now);
            next.insert(channel.to_string(), theoretical + self.interval);
            earliest
        };
        tokio::time::sleep_until(send_at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_allows_a_burst_then_one_per_interval() {
        let pacer = Pacer::new(Duration::from_secs(1), 3);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..6 {
            pacer.wait("C1").await;
            sent.push((Instant::now() - start).as_millis());
        }
        assert_eq!(sent, vec![0, 0, 0, 1000, 2000, 3000]);
        // Another channel has its own pace.
        let before = Instant::now();
        pacer.wait("C2").await;
        assert_eq!(Instant::now(), before);
    }

    #[tokio::test]
    async fn a_post_is_pending_until_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let records = PostRecords::new(Store::open(dir.path()).unwrap(), "slack");
        assert_eq!(records.recorded("case-1").unwrap(), None);
        records.set_pending("case-1").unwrap();
        assert!(records.pending("case-1").unwrap());
        let message = MessageRef {
            channel: "C1".to_string(),
            message: "1.0001".to_string(),
            thread: None,
        };
        records.record("case-1", &message).await.unwrap();
        assert!(!records.pending("case-1").unwrap());
        assert_eq!(records.recorded("case-1").unwrap(), Some(message));
    }

    #[tokio::test]
    async fn a_post_an_earlier_run_may_have_made_is_pending_until_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let records = PostRecords::new(Store::open(dir.path()).unwrap(), "slack");
        assert!(!records.pending("case-2").unwrap());
        records.may_have_posted("case-2");
        assert!(
            records.pending("case-2").unwrap(),
            "no marker, still pending"
        );
        // A clone (another task of the same adapter) sees it too.
        assert!(records.clone().pending("case-2").unwrap());
        let message = MessageRef {
            channel: "C1".to_string(),
            message: "1.0002".to_string(),
            thread: None,
        };
        records.record("case-2", &message).await.unwrap();
        assert!(!records.pending("case-2").unwrap());
    }
}
