//! Executes a chat lane: cards, thread notes and escalation cards.

use std::sync::Arc;

use super::{chat_lane, Executor, Retry};
use crate::chat::{ChatAdapter, ChatError};
use crate::domain::{
    case_card, escalation_card, kudos_card, kudos_key, Case, CaseId, CustomerContext, MessageRef,
};
use crate::store::{OutboxEntry, OutboxKey, OutboxTask, Store, StoreError};

/// Executes one chat adapter's lane.
pub struct ChatExecutor {
    chat: Arc<dyn ChatAdapter>,
    store: Store,
    repeat_within: Option<chrono::Duration>,
    show_reach: bool,
    /// The office's time zone (`[sla.business_hours]`): due times on cards and in thread notes
    /// are shown in it.
    zone: Option<jiff::tz::TimeZone>,
}

impl ChatExecutor {
    /// An executor posting through `chat`.
    pub fn new(chat: Arc<dyn ChatAdapter>, store: Store) -> ChatExecutor {
        ChatExecutor {
            chat,
            store,
            repeat_within: None,
            show_reach: false,
            zone: None,
        }
    }

    /// Shows due times on cards in `zone` (with its abbreviation) instead of UTC.
    pub fn with_zone(mut self, zone: Option<jiff::tz::TimeZone>) -> ChatExecutor {
        self.zone = zone;
        self
    }

    fn localize(&self, case: &Case, card: &mut crate::domain::Card) {
        if let Some(zone) = &self.zone {
            card.state_line = crate::domain::state_line_in(case, zone);
        }
    }

    /// Flags a case on its card when the customer had another within `window`
    /// (`[customers].repeat_within`; zero turns it off).
    pub fn with_repeat_within(mut self, window: std::time::Duration) -> ChatExecutor {
        self.repeat_within = chrono::Duration::from_std(window)
            .ok()
            .filter(|window| *window > chrono::Duration::zero());
        self
    }

    fn customer_context(&self, case: &Case) -> Result<CustomerContext, Retry> {
        let mut context = self.store.customer_context(case).map_err(store_retry)?;
        context.repeat_within = self.repeat_within;
        Ok(context)
    }

    /// Shows the customer's follower-count bucket on cards (`[fairness] show_reach`).
    pub fn with_reach(mut self, show_reach: bool) -> ChatExecutor {
        self.show_reach = show_reach;
        self
    }

    /// The case's card as this chat shows it.
    fn card(&self, case: &Case, context: &crate::domain::CustomerContext) -> crate::domain::Card {
        let mut card = case_card(case, context);
        self.localize(case, &mut card);
        if self.show_reach {
            card.reach = crate::domain::card::reach_line(case);
        }
        card
    }

    /// The case's card in this chat: posted now if it isn't yet, and the reference recorded.
    async fn ensure_card(&self, case: &Case) -> Result<MessageRef, Retry> {
        if let Some(message) = case.chat_refs.get(self.chat.name()) {
            return Ok(message.clone());
        }
        let context = self.customer_context(case)?;
        let card = self.card(case, &context);
        let channel = self.chat.main_channel();
        let message = self
            .chat
            .post_card(&card_key(case), &channel, &card)
            .await
            .map_err(chat_retry)?;
        crate::failpoint::hit("chat.after_execute").await;
        self.record_ref(case, &message, None).await?;
        Ok(message)
    }

    /// Records where the card is and which case version it shows (never bumps the case
    /// version: that is for changes people make).
    async fn record_ref(
        &self,
        case: &Case,
        message: &MessageRef,
        done: Option<&OutboxKey>,
    ) -> Result<(), Retry> {
        let chat = self.chat.name().to_string();
        self.store
            .transact(|tx| {
                if let Some(mut current) = tx.case(case.id)? {
                    let new_ref = !current.chat_refs.contains_key(&chat);
                    let shown = current.card_versions.get(&chat).copied().unwrap_or(0);
                    if new_ref || shown < case.version {
                        current
                            .chat_refs
                            .entry(chat.clone())
                            .or_insert_with(|| message.clone());
                        current
                            .card_versions
                            .insert(chat.clone(), shown.max(case.version));
                        tx.put_case(&current)?;
                    }
                }
                if let Some(key) = done {
                    tx.complete(key)?;
                }
                Ok(())
            })
            .map_err(store_retry)?;
        self.store.flush().await.map_err(store_retry)
    }

    /// Posts a kudos card in this chat's kudos channel, or edits it to its current state
    /// (moved: who moved it, with a link to the complaint's card in this chat).
    async fn sync_kudos(&self, key: &OutboxKey, id: u64) -> Result<(), Retry> {
        let Some(channel) = self.chat.kudos_channel() else {
            return self.complete(key).await;
        };
        let Some(kudos) = self.store.kudos(id).map_err(store_retry)? else {
            tracing::warn!(kudos = id, "Outbox entry for an unknown kudos; dropping it");
            return self.complete(key).await;
        };
        let case_cards = match &kudos.moved {
            Some(moved) => self
                .store
                .case(moved.case)
                .map_err(store_retry)?
                .map(|case| case.chat_refs)
                .unwrap_or_default(),
            None => Default::default(),
        };
        let card = kudos_card(&kudos, &case_cards);
        let chat = self.chat.name().to_string();
        let message = match kudos.chat_refs.get(&chat) {
            Some(message) => {
                self.chat
                    .update_card(message, &card)
                    .await
                    .map_err(chat_retry)?;
                message.clone()
            }
            None => self
                .chat
                .post_card(&kudos_key(id), &channel, &card)
                .await
                .map_err(chat_retry)?,
        };
        self.store
            .transact(|tx| {
                if let Some(mut current) = tx.kudos(id)? {
                    if !current.chat_refs.contains_key(&chat) {
                        current.chat_refs.insert(chat.clone(), message.clone());
                        tx.put_kudos(&current)?;
                    }
                }
                tx.complete(key)?;
                Ok(())
            })
            .map_err(store_retry)?;
        self.store.flush().await.map_err(store_retry)
    }

    async fn complete(&self, key: &OutboxKey) -> Result<(), Retry> {
        super::finish(&self.store, key).await
    }
}

#[async_trait::async_trait]
impl Executor for ChatExecutor {
    fn lane(&self) -> String {
        chat_lane(self.chat.name())
    }

    async fn execute(&self, key: &OutboxKey, entry: &OutboxEntry) -> Result<(), Retry> {
        if self.store.queued_by_an_earlier_run(key) {
            // That run may have posted and died before its "posting" marker reached the disk.
            for post in post_keys(entry) {
                self.chat.may_have_posted(&post);
            }
        }
        if let OutboxTask::KudosCard { kudos } = &entry.task {
            return self.sync_kudos(key, *kudos).await;
        }
        let Some(case) = self.store.case(entry.case).map_err(store_retry)? else {
            tracing::warn!(case = %entry.case, "Outbox entry for an unknown case; dropping it");
            return self.complete(key).await;
        };
        match &entry.task {
            OutboxTask::SyncCard => {
                let shown = case.card_versions.get(self.chat.name()).copied();
                let posted = case.chat_refs.contains_key(self.chat.name());
                if posted && shown.is_some_and(|version| version >= case.version) {
                    // An earlier sync already showed this version (or a later one).
                    return self.complete(key).await;
                }
                if let Some(message) = case.chat_refs.get(self.chat.name()) {
                    let context = self.customer_context(&case)?;
                    self.chat
                        .update_card(message, &self.card(&case, &context))
                        .await
                        .map_err(chat_retry)?;
                    self.record_ref(&case, message, Some(key)).await
                } else {
                    let message = self.ensure_card(&case).await?;
                    self.record_ref(&case, &message, Some(key)).await
                }
            }
            OutboxTask::ThreadNote { seq } => {
                let parent = self.ensure_card(&case).await?;
                let Some(event) = self.store.event(case.id, *seq).map_err(store_retry)? else {
                    tracing::warn!(case = %case.id, seq, "Thread note for a missing event; dropping it");
                    return self.complete(key).await;
                };
                let note_key = note_key(entry.case, *seq);
                self.chat
                    .post_thread(&note_key, &parent, &event.note_in(self.zone.as_ref()))
                    .await
                    .map_err(chat_retry)?;
                crate::failpoint::hit("chat.after_execute").await;
                self.complete(key).await
            }
            OutboxTask::EscalationCard { target } => {
                let escalation = case.escalations.iter().find(|e| &e.target == target);
                let channel = self.chat.escalation_channel(target);
                if let (Some(escalation), Some(channel)) = (escalation, channel) {
                    let mut card = escalation_card(&case, escalation);
                    self.localize(&case, &mut card);
                    let card_key = escalation_key(entry.case, target);
                    self.chat
                        .post_card(&card_key, &channel, &card)
                        .await
                        .map_err(chat_retry)?;
                }
                self.complete(key).await
            }
            OutboxTask::PublicReply { .. }
            | OutboxTask::Webhook { .. }
            | OutboxTask::KudosCard { .. } => {
                tracing::error!(case = %case.id, task = ?entry.task, "A task was queued on the wrong lane; dropping it");
                self.complete(key).await
            }
        }
    }
}

/// The idempotency key of a case's card in any chat.
fn card_key(case: &Case) -> String {
    case_card_key(case.id)
}

fn case_card_key(case: CaseId) -> String {
    format!("case-{}", case.0)
}

/// The idempotency key of the thread note of a case's event `seq`.
fn note_key(case: CaseId, seq: u32) -> String {
    format!("{}-event-{seq}", case_card_key(case))
}

/// The idempotency key of a case's escalation card for `target`.
fn escalation_key(case: CaseId, target: &str) -> String {
    format!("{}-escalation-{target}", case_card_key(case))
}

/// Every key an entry's execution may post under.
fn post_keys(entry: &OutboxEntry) -> Vec<String> {
    match &entry.task {
        OutboxTask::KudosCard { kudos } => vec![kudos_key(*kudos)],
        OutboxTask::SyncCard => vec![case_card_key(entry.case)],
        OutboxTask::ThreadNote { seq } => {
            vec![case_card_key(entry.case), note_key(entry.case, *seq)]
        }
        OutboxTask::EscalationCard { target } => vec![escalation_key(entry.case, target)],
        OutboxTask::PublicReply { .. } | OutboxTask::Webhook { .. } => Vec::new(),
    }
}

fn chat_retry(error: ChatError) -> Retry {
    match error {
        ChatError::RateLimited { retry_after } => Retry {
            message: error.to_string(),
            after: Some(retry_after),
            permanent: false,
        },
        ChatError::Transient(_) => Retry {
            message: error.to_string(),
            after: None,
            permanent: false,
        },
        ChatError::Rejected(_) => Retry {
            message: error.to_string(),
            after: None,
            permanent: true,
        },
    }
}

pub(super) fn store_retry(error: StoreError) -> Retry {
    Retry {
        message: format!("store: {error}"),
        after: None,
        permanent: false,
    }
}
