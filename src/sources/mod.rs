//! Sources: where mentions come from and where public replies go.
//!
//! Each network has one `SourceClient`; the shared poll loop in `poll.rs` owns the interval,
//! the cursor, backoff and shutdown. **Architecture invariant:** only `sources/<net>.rs` knows
//! that network's JSON; everything else sees `Mention`.

pub mod bluesky;
pub mod http;
pub mod mastodon;
pub mod poll;
pub mod replay;
pub mod x;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{Mention, Network, PostRef};

pub use poll::{run_poll_loop, SourceBatch};

/// What can go wrong talking to a network, in the terms callers branch on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// The network asked us to slow down.
    #[error("rate limited, retry after {retry_after:?}")]
    RateLimited {
        /// How long the network asked us to wait.
        retry_after: Duration,
    },
    /// Worth retrying: a timeout, a 5xx, a dropped connection.
    #[error("{0}")]
    Transient(String),
    /// The network refused; retrying the same request won't help.
    #[error("{0}")]
    Rejected(String),
}

/// One fetch's result.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// New mentions, oldest first.
    pub mentions: Vec<Mention>,
    /// The cursor to resume after these mentions.
    pub cursor: Option<String>,
    /// How long to wait before the next fetch, if the source knows better than its interval.
    pub wait: Option<Duration>,
}

/// A public reply to post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyRequest {
    /// The reply action's id: the network-side idempotency key.
    pub reply_id: String,
    /// The customer's post we answer.
    pub in_reply_to: PostRef,
    /// The conversation's first post.
    pub root: PostRef,
    /// The customer's handle (for mention facets).
    pub customer_handle: String,
    /// The exact text.
    pub text: String,
}

/// What the network says about a posted reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyReceipt {
    /// The network's id of our post.
    pub post_id: String,
    /// A link to it.
    pub url: Option<String>,
}

/// A network connection: reads mentions, posts replies.
#[async_trait]
pub trait SourceClient: Send + Sync {
    /// The source's configured name.
    fn name(&self) -> &str;

    /// How often to poll when the source has no better idea.
    fn poll_interval(&self) -> Duration;

    /// The public reply length limit on `network`, counted as the network counts.
    fn reply_limit(&self, network: Network) -> usize {
        network.default_reply_limit()
    }

    /// Checks the credentials (signs in, reads the account) and says as whom, for
    /// `mentiondesk check`. Sources without credentials say what they read.
    async fn verify(&self) -> Result<String, SourceError>;

    /// Fetches what is new after `cursor` (`None`: first start).
    async fn fetch(&self, cursor: Option<&str>) -> Result<Fetched, SourceError>;

    /// Posts a public reply. Idempotent on `request.reply_id`: a retry after a crash or a
    /// timeout must never create a second post.
    async fn reply(&self, request: &ReplyRequest) -> Result<ReplyReceipt, SourceError>;

    /// Listens for pushes until `shutdown` (e.g. a streaming API) and rings `doorbell` when
    /// something new waits, so the poll loop fetches at once instead of at its next interval.
    /// The fetch stays the only way mentions come in, so the cursor rules hold. The default
    /// listens to nothing.
    async fn listen(
        &self,
        _doorbell: std::sync::Arc<tokio::sync::Notify>,
        _shutdown: tokio_util::sync::CancellationToken,
    ) {
    }
}

/// How many of its own post ids a source remembers before it starts over.
const POSTED_MEMORY: usize = 10_000;

/// The ids of the posts this process made on a network, so that reading the brand's own posts
/// does not take them for answers made outside the bot. Bounded: past `POSTED_MEMORY` ids it
/// starts over (the oldest replies have long been recorded as ours by then).
#[derive(Debug, Default)]
pub struct PostedIds(std::sync::Mutex<std::collections::HashSet<String>>);

impl PostedIds {
    /// Whether this process posted `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(id)
    }

    /// Remembers that this process posted `id`.
    pub fn remember(&self, id: &str) {
        let mut posted = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if posted.len() >= POSTED_MEMORY {
            posted.clear();
        }
        posted.insert(id.to_string());
    }
}
