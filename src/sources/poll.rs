//! The shared poll loop: fetch, hand the batch to the pipeline, wait, repeat.
//!
//! The cursor is advanced in the store by the pipeline, in the same transaction that stores the
//! mentions, so a crash can re-read a batch (dedupe drops it) but never skip one. The loop waits
//! for the pipeline's acknowledgement before fetching again: one batch in flight per source.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{SourceClient, SourceError};
use crate::domain::Mention;
use crate::health::Health;
use crate::store::Store;

/// The longest wait between retries after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A batch of mentions from one source, with the cursor to store once they are stored.
#[derive(Debug)]
pub struct SourceBatch {
    /// The source's name.
    pub source: String,
    /// The mentions, oldest first.
    pub mentions: Vec<Mention>,
    /// The cursor after these mentions.
    pub cursor: Option<String>,
    /// Told once the batch is durably stored (or why it could not be).
    pub stored: oneshot::Sender<Result<(), String>>,
}

/// Polls `client` until `shutdown`, sending batches to the pipeline.
pub async fn run_poll_loop(
    client: Arc<dyn SourceClient>,
    store: Store,
    pipeline: mpsc::Sender<SourceBatch>,
    health: Health,
    shutdown: CancellationToken,
) {
    let name = client.name().to_string();
    let component = format!("source:{name}");
    let mut cursor = match store.cursor(&name) {
        Ok(cursor) => cursor,
        Err(error) => {
            tracing::error!(source = %name, error = %error, "Cannot read the source cursor");
            health.error(&component, &error.to_string());
            return;
        }
    };
    let mut backoff = Duration::from_secs(1);
    // A source that can be pushed to (a streaming API) rings the doorbell to cut a wait short.
    let doorbell = Arc::new(tokio::sync::Notify::new());
    let listening = shutdown.child_token();
    let listener = tokio::spawn({
        let client = client.clone();
        let doorbell = doorbell.clone();
        let listening = listening.clone();
        async move { client.listen(doorbell, listening).await }
    });
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let wait = match client.fetch(cursor.as_deref()).await {
            Ok(fetched) => {
                tracing::debug!(source = %name, count = fetched.mentions.len(), "Fetched");
                let advanced = fetched.cursor.is_some() && fetched.cursor != cursor;
                if fetched.mentions.is_empty() && !advanced {
                    health.ok(&component);
                    backoff = Duration::from_secs(1);
                    fetched.wait.unwrap_or_else(|| client.poll_interval())
                } else {
                    let count = fetched.mentions.len();
                    let (stored, stored_rx) = oneshot::channel();
                    let batch = SourceBatch {
                        source: name.clone(),
                        mentions: fetched.mentions,
                        cursor: fetched.cursor.clone(),
                        stored,
                    };
                    if pipeline.send(batch).await.is_err() {
                        break;
                    }
                    match stored_rx.await {
                        Ok(Ok(())) => {
                            tracing::debug!(source = %name, count, "Batch stored");
                            health.ok(&component);
                            cursor = fetched.cursor;
                            backoff = Duration::from_secs(1);
                            fetched.wait.unwrap_or(Duration::ZERO)
                        }
                        Ok(Err(error)) => {
                            health.error(&component, &error);
                            next_backoff(&mut backoff)
                        }
                        Err(_) => break,
                    }
                }
            }
            Err(SourceError::RateLimited { retry_after }) => {
                tracing::warn!(source = %name, ?retry_after, "Rate limited");
                health.error(&component, "rate limited");
                health.metrics().api_error(&component, "", true);
                retry_after
            }
            Err(error) => {
                tracing::warn!(source = %name, error = %error, "Fetch failed");
                health.error(&component, &error.to_string());
                health
                    .metrics()
                    .api_error(&component, &error.to_string(), false);
                next_backoff(&mut backoff)
            }
        };
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = doorbell.notified() => {
                tracing::debug!(source = %name, "Pushed: fetching now");
            }
            _ = shutdown.cancelled() => break,
        }
    }
    listening.cancel();
    if let Err(error) = listener.await {
        tracing::warn!(source = %name, error = %error, "The source's listener failed");
    }
    tracing::info!(source = %name, "Source stopped");
}

fn next_backoff(backoff: &mut Duration) -> Duration {
    let wait = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    wait
}
