//! Chat adapters: where cards are posted and where clicks come from.
//!
//! Each adapter (console, Slack, Discord) renders the neutral `Card` in its own format and turns
//! clicks and form submits into `ChatEvent`s for the actions engine. **Architecture invariant:**
//! only `chat/slack/` knows Block Kit, only `chat/discord/` knows serenity; the rest of the crate
//! sees the `ChatAdapter` trait.

pub mod commands;
pub mod console;
pub mod delivery;
pub mod discord;
pub mod limits;
pub mod slack;
pub mod targets;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::digest::Digest;
pub use crate::domain::MessageRef;
use crate::domain::{ActionRequest, Agent, Card, ThreadNote};

/// What can go wrong talking to a chat, in the terms callers branch on.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The chat asked us to slow down.
    #[error("rate limited, retry after {retry_after:?}")]
    RateLimited {
        /// How long the chat asked us to wait.
        retry_after: std::time::Duration,
    },
    /// Worth retrying: a timeout, a 5xx, a dropped connection.
    #[error("transient chat error: {0}")]
    Transient(String),
    /// Retrying the same request won't help (bad token, unknown channel, invalid blocks).
    #[error("chat refused the request: {0}")]
    Rejected(String),
}

/// A chat the bot posts cards to.
#[async_trait]
pub trait ChatAdapter: Send + Sync {
    /// The chat's name in config and in stored refs: `console`, `slack`, `discord`.
    fn name(&self) -> &str;

    /// The channel new cards go to.
    fn main_channel(&self) -> String;

    /// The channel a target's linked card goes to in this chat, if the target (by its config
    /// id) has one here.
    fn escalation_channel(&self, target: &str) -> Option<String>;

    /// The channel kudos cards (praise, `[triage].kudos`) go to in this chat; `None` (the
    /// default) posts none here.
    fn kudos_channel(&self) -> Option<String> {
        None
    }

    /// Says that the post under `key` may have been made by an earlier run of the bot that died
    /// before its record of it reached the disk: the next `post_card` / `post_thread` under
    /// that key looks for it in the chat before posting. The outbox calls this for entries an
    /// earlier run queued. The default does nothing (an adapter that finds its posts by key
    /// anyway, like the console).
    fn may_have_posted(&self, _key: &str) {}

    /// Posts a card. Idempotent on `key`: posting the same key again (after a crash between
    /// posting and recording) must find the existing message rather than post a second one.
    async fn post_card(
        &self,
        key: &str,
        channel: &str,
        card: &Card,
    ) -> Result<MessageRef, ChatError>;

    /// Edits a posted card in place.
    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError>;

    /// Posts a note in the card's thread. Idempotent on `key`, like `post_card`.
    async fn post_thread(
        &self,
        key: &str,
        parent: &MessageRef,
        note: &ThreadNote,
    ) -> Result<(), ChatError>;

    /// Posts an operational notice (a source or chat failing, or working again) in the chat's
    /// ops channel. A chat without an ops channel ignores it: the default does nothing.
    async fn post_notice(&self, _text: &str) -> Result<(), ChatError> {
        Ok(())
    }

    /// Posts the weekly digest (its text with the chart as an image) in `channel`. Idempotent
    /// on `digest.key` where the chat allows it. A chat that cannot show one refuses.
    async fn post_digest(&self, _channel: &str, _digest: &Digest) -> Result<(), ChatError> {
        Err(ChatError::Rejected(format!(
            "{} cannot post a digest",
            self.name()
        )))
    }

    /// Looks in `channel` for `digest` as this bot posted it since `since` (an attempt the chat
    /// may have taken before a crash or a lost answer): the message's id, if it is there. The
    /// digest task asks before posting again. A chat whose `post_digest` is idempotent by
    /// itself (the console) need not look: the default finds nothing.
    async fn find_digest(
        &self,
        _channel: &str,
        _digest: &Digest,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, ChatError> {
        Ok(None)
    }
}

/// A click or form submit, decoded, on its way to the actions engine.
#[derive(Debug)]
pub struct ChatEvent {
    /// The chat it came from.
    pub chat: String,
    /// Who clicked.
    pub agent: Agent,
    /// What they asked for.
    pub request: ActionRequest,
    /// Where the engine sends its answer (shown privately to the person).
    pub respond: oneshot::Sender<ActionOutcome>,
}

impl ChatEvent {
    /// Hands `request` by `agent` from `chat` to the engine over `engine`; the receiver gets
    /// its answer. `None` when there is no engine (not started, or shutting down).
    pub async fn send(
        engine: Option<tokio::sync::mpsc::Sender<ChatEvent>>,
        chat: &str,
        agent: Agent,
        request: ActionRequest,
    ) -> Option<oneshot::Receiver<ActionOutcome>> {
        let (respond, answer) = oneshot::channel();
        let event = ChatEvent {
            chat: chat.to_string(),
            agent,
            request,
            respond,
        };
        engine?.send(event).await.ok()?;
        Some(answer)
    }
}

/// The engine's answer to a `ChatEvent`, shown only to the person who acted.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// Done; the card and thread update for everyone. An optional private notice.
    Done {
        /// A private notice, e.g. "Reply queued".
        notice: Option<String>,
    },
    /// Not allowed or not possible now (e.g. "already claimed by Ana").
    Refused {
        /// Why, in words for the person.
        message: String,
    },
    /// A form field is wrong; the form stays open with this error.
    Invalid {
        /// The field (`text`, `target`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The reply contains personal data: ask the person to confirm before posting.
    ConfirmPii {
        /// What was found.
        warning: String,
    },
}
