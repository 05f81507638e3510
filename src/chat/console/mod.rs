//! The console: a local web page that plays the role of a chat service, with no account needed.
//!
//! `ConsoleChat` implements [`ChatAdapter`]: it keeps channels ("mentions" plus one per
//! escalation target), the cards posted in them and their threads **in the store** (the chat
//! key/value area), so cards survive a restart just as they would in Slack. Every change is
//! announced on a broadcast channel; the web server in `server.rs` turns those announcements
//! into server-sent events so open pages update live. Rendering to HTML lives in `render.rs`.
//!
//! This module must not decide anything about cases: clicks are decoded into `ChatEvent`s and
//! sent to the actions engine, whose answer is shown to the person who clicked.

pub mod render;
mod server;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Mutex};

use crate::chat::{ChatAdapter, ChatError, MessageRef};
use crate::digest::Digest;
use crate::domain::{Card, ThreadNote};
use crate::store::{Store, StoreError};

pub use server::{router, serve, ConsoleState, ACTION_TIMEOUT, AUTH_COOKIE};

/// The adapter's name in config and in the cases' chat refs.
pub const CHAT_NAME: &str = "console";

/// The channel new cards go to.
pub const MAIN_CHANNEL: &str = "mentions";

/// The main channel's label on the page.
pub const MAIN_CHANNEL_LABEL: &str = "Mentions";

/// The channel kudos cards go to (with `[triage].kudos = true`).
pub const KUDOS_CHANNEL: &str = "kudos";

/// The kudos channel's label on the page.
pub const KUDOS_CHANNEL_LABEL: &str = "Kudos";

/// How many changes a slow page may fall behind before it is told to reload.
const CHANGE_BUFFER: usize = 256;
/// The channel name notices are announced in (`/api/notices` lists them).
pub const OPS_CHANNEL: &str = "ops";

/// Store key prefixes inside the console's chat area.
const MESSAGE_PREFIX: &str = "m/";
const POSTED_PREFIX: &str = "k/";
const NOTICE_PREFIX: &str = "n/";
const DIGEST_PREFIX: &str = "g/";
const DIGEST_CHART_PREFIX: &str = "i/";
const SEQUENCE_KEY: &str = "seq";

/// A console channel: the main one or an escalation target's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The channel id (`mentions`, or the escalation target's config id).
    pub id: String,
    /// The label shown on the tab.
    pub label: String,
}

/// A card posted in a console channel, with its thread, as kept in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleMessage {
    /// The idempotency key it was posted with.
    pub key: String,
    /// The channel it lives in.
    pub channel: String,
    /// Its id within the console (ordered: a later message has a greater id).
    pub message_id: String,
    /// The card as last posted or updated.
    pub card: Card,
    /// The thread under the card, oldest first.
    pub thread: Vec<ThreadNote>,
    /// The keys of the thread notes, so a note posted twice is shown once. Kept in the same
    /// record as the thread so that a note and its key are written together.
    #[serde(default)]
    pub note_keys: Vec<String>,
    /// When the card was posted.
    pub posted_at: DateTime<Utc>,
    /// When the card or its thread last changed.
    pub updated_at: DateTime<Utc>,
}

impl ConsoleMessage {
    /// The reference the rest of the bot keeps for this message.
    pub fn message_ref(&self) -> MessageRef {
        MessageRef {
            channel: self.channel.clone(),
            message: self.message_id.clone(),
            thread: None,
        }
    }
}

/// An operational notice in the console's ops channel (a connector failing or recovering).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// What it says.
    pub text: String,
}

/// A weekly digest posted in a console channel; its chart is served at
/// `/api/digests/{id}/chart.png`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleDigest {
    /// Its id within the console.
    pub id: String,
    /// The idempotency key it was posted with.
    pub key: String,
    /// The channel it was posted in.
    pub channel: String,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// Its title.
    pub title: String,
    /// The figures.
    pub text: String,
}

/// An announcement that a message changed, for live pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleChange {
    /// The channel.
    pub channel: String,
    /// The message.
    pub message_id: String,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new card.
    Posted,
    /// The card was edited.
    Updated,
    /// A note was added to the thread.
    Thread,
    /// A notice was posted in the ops channel ([`OPS_CHANNEL`]; `message_id` is the notice's).
    Notice,
    /// A weekly digest was posted (`message_id` is the digest's id).
    Digest,
}

/// The console chat adapter. Cheap to share behind an `Arc`; all state is in the store.
pub struct ConsoleChat {
    store: Store,
    channels: Vec<Channel>,
    changes: broadcast::Sender<ConsoleChange>,
    /// Serializes writers so that "look up the key, then post" cannot race with itself.
    writes: Mutex<()>,
    /// `[[replies.saved]]`, offered by the reply form.
    saved: Vec<crate::domain::SavedReply>,
}

impl std::fmt::Debug for ConsoleChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleChat")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl ConsoleChat {
    /// A console with the main channel plus one channel per escalation target, given as
    /// (config id, label) pairs. A target whose id is already taken (the main channel's, or a
    /// duplicate) is ignored: it would shadow the earlier channel.
    pub fn new(store: Store, escalation_targets: Vec<(String, String)>) -> ConsoleChat {
        let mut channels = vec![Channel {
            id: MAIN_CHANNEL.to_string(),
            label: MAIN_CHANNEL_LABEL.to_string(),
        }];
        for (id, label) in escalation_targets {
            if channels.iter().any(|channel| channel.id == id) {
                tracing::warn!(chat = CHAT_NAME, target = %id, "Duplicate console channel ignored");
                continue;
            }
            channels.push(Channel { id, label });
        }
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        ConsoleChat {
            store,
            channels,
            changes,
            writes: Mutex::new(()),
            saved: Vec::new(),
        }
    }

    /// Adds the kudos channel (`[triage].kudos = true`), unless an escalation target took its
    /// id.
    pub fn with_kudos(mut self) -> ConsoleChat {
        if self.channel(KUDOS_CHANNEL).is_none() {
            self.channels.push(Channel {
                id: KUDOS_CHANNEL.to_string(),
                label: KUDOS_CHANNEL_LABEL.to_string(),
            });
        } else {
            tracing::warn!(
                chat = CHAT_NAME,
                "An escalation target is called \"kudos\": no kudos channel in the console"
            );
        }
        self
    }

    /// Offers these saved replies in the reply form.
    pub fn with_saved_replies(mut self, saved: Vec<crate::domain::SavedReply>) -> ConsoleChat {
        self.saved = saved;
        self
    }

    /// The saved replies the reply form offers.
    pub fn saved_replies(&self) -> &[crate::domain::SavedReply] {
        &self.saved
    }

    /// Every channel, the main one first.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// A channel by id.
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|channel| channel.id == id)
    }

    /// The escalation targets: every channel but the main one.
    pub fn escalation_targets(&self) -> &[Channel] {
        &self.channels[1..]
    }

    /// The ops channel's notices, oldest first.
    pub fn notices(&self) -> Result<Vec<Notice>, ChatError> {
        self.store
            .chat_scan(CHAT_NAME, NOTICE_PREFIX)
            .map_err(store_error)?
            .iter()
            .map(|(_, bytes)| decode(bytes))
            .collect()
    }

    /// The weekly digests, oldest first.
    pub fn digests(&self) -> Result<Vec<ConsoleDigest>, ChatError> {
        self.store
            .chat_scan(CHAT_NAME, DIGEST_PREFIX)
            .map_err(store_error)?
            .iter()
            .map(|(_, bytes)| decode(bytes))
            .collect()
    }

    /// A digest's chart (PNG), if there is such a digest.
    pub fn digest_chart(&self, id: &str) -> Result<Option<Vec<u8>>, ChatError> {
        self.store
            .chat_get(CHAT_NAME, &format!("{DIGEST_CHART_PREFIX}{id}"))
            .map_err(store_error)
    }

    /// Subscribes to change announcements.
    pub fn subscribe(&self) -> broadcast::Receiver<ConsoleChange> {
        self.changes.subscribe()
    }

    /// The messages of a channel, oldest first.
    pub fn messages(&self, channel: &str) -> Result<Vec<ConsoleMessage>, ChatError> {
        let prefix = format!("{MESSAGE_PREFIX}{channel}/");
        let mut messages = Vec::new();
        for (_, bytes) in self
            .store
            .chat_scan(CHAT_NAME, &prefix)
            .map_err(store_error)?
        {
            let message: ConsoleMessage = decode(&bytes)?;
            // A channel id that is a prefix of another ("a" and "a/b") shares a key prefix.
            if message.channel == channel {
                messages.push(message);
            }
        }
        Ok(messages)
    }

    /// One message of a channel.
    pub fn message(
        &self,
        channel: &str,
        message_id: &str,
    ) -> Result<Option<ConsoleMessage>, ChatError> {
        self.store
            .chat_get(CHAT_NAME, &message_key(channel, message_id))
            .map_err(store_error)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// How many cards a channel holds.
    pub fn message_count(&self, channel: &str) -> Result<usize, ChatError> {
        Ok(self.messages(channel)?.len())
    }

    async fn put_message(&self, message: &ConsoleMessage) -> Result<(), ChatError> {
        let bytes = serde_json::to_vec(message).map_err(|error| {
            ChatError::Rejected(format!("cannot encode console message: {error}"))
        })?;
        self.store
            .chat_put(
                CHAT_NAME,
                &message_key(&message.channel, &message.message_id),
                &bytes,
            )
            .await
            .map_err(store_error)
    }

    async fn next_message_id(&self) -> Result<String, ChatError> {
        let current = match self
            .store
            .chat_get(CHAT_NAME, SEQUENCE_KEY)
            .map_err(store_error)?
        {
            Some(bytes) => decode::<u64>(&bytes)?,
            None => 0,
        };
        let next = current + 1;
        self.store
            .chat_put(CHAT_NAME, SEQUENCE_KEY, next.to_string().as_bytes())
            .await
            .map_err(store_error)?;
        // Zero padding keeps the store's key order equal to posting order.
        Ok(format!("{next:012}"))
    }

    fn announce(&self, message: &ConsoleMessage, kind: ChangeKind) {
        // Nobody listening is normal (no page open); the send result carries nothing else.
        let _ = self.changes.send(ConsoleChange {
            channel: message.channel.clone(),
            message_id: message.message_id.clone(),
            kind,
        });
    }
}

#[async_trait]
impl ChatAdapter for ConsoleChat {
    fn name(&self) -> &str {
        CHAT_NAME
    }

    fn main_channel(&self) -> String {
        MAIN_CHANNEL.to_string()
    }

    fn kudos_channel(&self) -> Option<String> {
        self.channels
            .iter()
            .skip(1)
            .find(|channel| channel.id == KUDOS_CHANNEL && channel.label == KUDOS_CHANNEL_LABEL)
            .map(|channel| channel.id.clone())
    }

    fn escalation_channel(&self, target: &str) -> Option<String> {
        self.escalation_targets()
            .iter()
            .find(|channel| channel.id == target)
            .map(|channel| channel.id.clone())
    }

    async fn post_card(
        &self,
        key: &str,
        channel: &str,
        card: &Card,
    ) -> Result<MessageRef, ChatError> {
        if self.channel(channel).is_none() {
            return Err(ChatError::Rejected(format!(
                "unknown console channel {channel:?}"
            )));
        }
        let _guard = self.writes.lock().await;
        let posted_key = format!("{POSTED_PREFIX}{key}");
        // The key's record is written before the message: after a crash between the two, a
        // retry finds the record and writes the message it names, so one key means one card.
        let message_ref = match self
            .store
            .chat_get(CHAT_NAME, &posted_key)
            .map_err(store_error)?
        {
            Some(bytes) => {
                let message_ref: MessageRef = decode(&bytes)?;
                if self
                    .message(&message_ref.channel, &message_ref.message)?
                    .is_some()
                {
                    tracing::debug!(chat = CHAT_NAME, key, message_id = %message_ref.message, "Card already posted");
                    return Ok(message_ref);
                }
                message_ref
            }
            None => {
                let message_ref = MessageRef {
                    channel: channel.to_string(),
                    message: self.next_message_id().await?,
                    thread: None,
                };
                let bytes = serde_json::to_vec(&message_ref).map_err(|error| {
                    ChatError::Rejected(format!("cannot encode message ref: {error}"))
                })?;
                self.store
                    .chat_put(CHAT_NAME, &posted_key, &bytes)
                    .await
                    .map_err(store_error)?;
                message_ref
            }
        };
        let now = Utc::now();
        let message = ConsoleMessage {
            key: key.to_string(),
            channel: message_ref.channel.clone(),
            message_id: message_ref.message.clone(),
            card: card.clone(),
            thread: Vec::new(),
            note_keys: Vec::new(),
            posted_at: now,
            updated_at: now,
        };
        self.put_message(&message).await?;
        tracing::info!(chat = CHAT_NAME, channel, card = %card.subject(), message_id = %message.message_id, "Card posted");
        self.announce(&message, ChangeKind::Posted);
        Ok(message_ref)
    }

    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError> {
        let _guard = self.writes.lock().await;
        let mut stored = self
            .message(&message.channel, &message.message)?
            .ok_or_else(|| unknown_message(message))?;
        stored.card = card.clone();
        stored.updated_at = Utc::now();
        self.put_message(&stored).await?;
        tracing::debug!(chat = CHAT_NAME, channel = %message.channel, card = %card.subject(), message_id = %message.message, "Card updated");
        self.announce(&stored, ChangeKind::Updated);
        Ok(())
    }

    async fn post_thread(
        &self,
        key: &str,
        parent: &MessageRef,
        note: &ThreadNote,
    ) -> Result<(), ChatError> {
        let _guard = self.writes.lock().await;
        let mut stored = self
            .message(&parent.channel, &parent.message)?
            .ok_or_else(|| unknown_message(parent))?;
        if stored.note_keys.iter().any(|existing| existing == key) {
            tracing::debug!(chat = CHAT_NAME, key, "Thread note already posted");
            return Ok(());
        }
        stored.thread.push(note.clone());
        stored.note_keys.push(key.to_string());
        stored.updated_at = Utc::now();
        self.put_message(&stored).await?;
        self.announce(&stored, ChangeKind::Thread);
        Ok(())
    }

    async fn post_notice(&self, text: &str) -> Result<(), ChatError> {
        let _guard = self.writes.lock().await;
        let id = self.next_message_id().await?;
        let notice = Notice {
            at: Utc::now(),
            text: text.to_string(),
        };
        let bytes = serde_json::to_vec(&notice)
            .map_err(|error| ChatError::Rejected(format!("cannot encode a notice: {error}")))?;
        self.store
            .chat_put(CHAT_NAME, &format!("{NOTICE_PREFIX}{id}"), &bytes)
            .await
            .map_err(store_error)?;
        // Nobody listening is normal (no page open).
        let _ = self.changes.send(ConsoleChange {
            channel: OPS_CHANNEL.to_string(),
            message_id: id,
            kind: ChangeKind::Notice,
        });
        Ok(())
    }

    async fn post_digest(&self, channel: &str, digest: &Digest) -> Result<(), ChatError> {
        let _guard = self.writes.lock().await;
        if self
            .digests()?
            .iter()
            .any(|posted| posted.key == digest.key && posted.channel == channel)
        {
            return Ok(());
        }
        let id = self.next_message_id().await?;
        // The chart first: a digest record never points at a missing image.
        self.store
            .chat_put(
                CHAT_NAME,
                &format!("{DIGEST_CHART_PREFIX}{id}"),
                &digest.png,
            )
            .await
            .map_err(store_error)?;
        let record = ConsoleDigest {
            id: id.clone(),
            key: digest.key.clone(),
            channel: channel.to_string(),
            at: Utc::now(),
            title: digest.title.clone(),
            text: digest.text.clone(),
        };
        let bytes = serde_json::to_vec(&record)
            .map_err(|error| ChatError::Rejected(format!("cannot encode a digest: {error}")))?;
        self.store
            .chat_put(CHAT_NAME, &format!("{DIGEST_PREFIX}{id}"), &bytes)
            .await
            .map_err(store_error)?;
        let _ = self.changes.send(ConsoleChange {
            channel: channel.to_string(),
            message_id: id,
            kind: ChangeKind::Digest,
        });
        Ok(())
    }
}

fn message_key(channel: &str, message_id: &str) -> String {
    format!("{MESSAGE_PREFIX}{channel}/{message_id}")
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ChatError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ChatError::Rejected(format!("bad console record in the store: {error}")))
}

fn store_error(error: StoreError) -> ChatError {
    ChatError::Transient(format!("console store: {error}"))
}

fn unknown_message(message: &MessageRef) -> ChatError {
    ChatError::Rejected(format!(
        "unknown console message {} in channel {:?}",
        message.message, message.channel
    ))
}

#[cfg(test)]
mod tests;
