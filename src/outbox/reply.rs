//! Executes a source's reply lane: posts public replies, exactly once.
//!
//! The reply id is the network-side idempotency key, so posting again after a crash (between
//! the network accepting and our recording it) finds the earlier post instead of making a
//! second one. The outcome (sent or failed) is recorded with the thread notes it implies.

use std::sync::Arc;

use chrono::Utc;

use super::chat::store_retry;
use super::{finish, reply_lane, Executor, Outbox, Retry};
use crate::domain::{apply, Command, Label, PostRef};
use crate::sources::{ReplyRequest, SourceClient, SourceError};
use crate::store::{
    LabelRecord, OutboxEntry, OutboxKey, OutboxTask, PostOrigin, Store, StoredPost,
};

/// How many times a reply is tried through transient errors before it is reported failed.
const REPLY_ATTEMPTS: u32 = 5;

/// Executes one source's reply lane.
pub struct ReplyExecutor {
    source: Arc<dyn SourceClient>,
    store: Store,
    outbox: Outbox,
}

impl ReplyExecutor {
    /// An executor posting through `source`.
    pub fn new(source: Arc<dyn SourceClient>, store: Store, outbox: Outbox) -> ReplyExecutor {
        ReplyExecutor {
            source,
            store,
            outbox,
        }
    }
}

#[async_trait::async_trait]
impl Executor for ReplyExecutor {
    fn lane(&self) -> String {
        reply_lane(self.source.name())
    }

    async fn execute(&self, key: &OutboxKey, entry: &OutboxEntry) -> Result<(), Retry> {
        let OutboxTask::PublicReply { reply_id } = &entry.task else {
            tracing::error!(case = %entry.case, "A chat task was queued on a reply lane; dropping it");
            return finish(&self.store, key).await;
        };
        let case = self.store.case(entry.case).map_err(store_retry)?;
        let pending = case
            .as_ref()
            .and_then(|case| case.pending_reply.as_ref())
            .filter(|pending| &pending.reply_id == reply_id);
        let (Some(case), Some(pending)) = (case.as_ref(), pending) else {
            // Already recorded (sent or failed) before a restart: nothing left to do.
            return finish(&self.store, key).await;
        };
        let request = ReplyRequest {
            reply_id: pending.reply_id.clone(),
            in_reply_to: pending.in_reply_to.clone(),
            root: pending.root.clone(),
            customer_handle: case.customer.handle.clone(),
            text: pending.text.clone(),
        };
        let result = self.source.reply(&request).await;
        crate::failpoint::hit("reply.after_execute").await;
        let command = match result {
            Ok(receipt) => {
                tracing::info!(case = %case.id, source = %self.source.name(), post_id = %receipt.post_id, by = %pending.by.name, "Public reply posted");
                Command::ReplySent {
                    reply_id: reply_id.clone(),
                    post_id: receipt.post_id,
                    url: receipt.url,
                }
            }
            Err(SourceError::Rejected(message)) => Command::ReplyFailed {
                reply_id: reply_id.clone(),
                error: message,
            },
            Err(error) if entry.attempts + 1 >= REPLY_ATTEMPTS => Command::ReplyFailed {
                reply_id: reply_id.clone(),
                error: format!("{error} (gave up after {REPLY_ATTEMPTS} attempts)"),
            },
            Err(SourceError::RateLimited { retry_after }) => {
                return Err(Retry {
                    message: format!("rate limited by {}", self.source.name()),
                    after: Some(retry_after),
                    permanent: false,
                })
            }
            Err(SourceError::Transient(message)) => {
                return Err(Retry {
                    message,
                    after: None,
                    permanent: false,
                })
            }
        };
        let now = Utc::now();
        let network = case.network;
        self.store
            .transact(|tx| {
                if let Some(current) = tx.case(entry.case)? {
                    match apply(&current, command.clone(), now) {
                        Ok(transition) => {
                            tx.put_case(&transition.case)?;
                            tx.append_events(&transition.events)?;
                            tx.append_audit(&crate::domain::audit::records(
                                &current,
                                &transition.case,
                                &transition.events,
                            ))?;
                            self.outbox
                                .enqueue_effects(tx, &transition.case, &transition.events, now)?;
                            if let Command::ReplySent { post_id, .. } = &command {
                                // Our reply joins the case, so answers to it are follow-ups.
                                tx.put_post(
                                    &PostRef::new(network, post_id.clone()),
                                    &StoredPost {
                                        case: Some(current.id),
                                        origin: PostOrigin::Ours,
                                        triage: None,
                                        mention: None,
                                        stored_at: now,
                                    },
                                )?;
                                tx.put_label(
                                    &current.opening.post_ref(),
                                    &LabelRecord {
                                        text: current.opening.text.clone(),
                                        label: Label::Complaint,
                                        by: current
                                            .owner
                                            .as_ref()
                                            .map(|owner| owner.id.clone())
                                            .unwrap_or_default(),
                                        at: now,
                                    },
                                )?;
                            }
                        }
                        Err(refusal) => {
                            tracing::warn!(case = %current.id, refusal = %refusal, "Reply outcome no longer applies");
                        }
                    }
                }
                tx.complete(key)
            })
            .map_err(store_retry)?;
        self.store.flush().await.map_err(store_retry)?;
        self.outbox.wake_all();
        Ok(())
    }
}
