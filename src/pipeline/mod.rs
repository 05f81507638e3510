//! The pipeline: stored-once mentions, follow-ups joined to their case, complaints opened.
//!
//! Batches from every source are stored in one transaction and one flush per round (a storm
//! does not pay one fsync per post); the sources' cursors advance in that same transaction.
//! Dedupe is by (network, post id). A post replying to, or rooted in, a post of a case joins
//! that case; the brand's own posts there become `replied_outside`.

pub mod triage;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::domain::{apply, normalize_handle, Case, Command, Mention};
use crate::outbox::Outbox;
use crate::scheduler::{SchedulerHandle, SlaPolicy};
use crate::sources::SourceBatch;
use crate::store::{PostOrigin, Store, StoreError, StoredPost, Tx, TxError};
pub use triage::{TriageRules, Triager};

/// The most mentions stored in one transaction.
const MAX_BATCH: usize = 500;

/// What one round of ingest did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// Posts seen before (dropped).
    pub duplicates: usize,
    /// New cases.
    pub opened: usize,
    /// Posts that joined a case.
    pub joined: usize,
    /// Posts stored without a card (not complaints, brand posts outside cases).
    pub skipped: usize,
    /// The cases opened, as stored.
    pub opened_cases: Vec<Case>,
}

/// The pipeline task's state.
#[derive(Debug, Clone)]
pub struct Pipeline {
    store: Store,
    triager: Triager,
    brand_handles: Vec<String>,
    outbox: Outbox,
    sla: Option<SlaPolicy>,
    scheduler: SchedulerHandle,
}

impl Pipeline {
    /// A pipeline storing into `store`, with the brand's own handles.
    pub fn new(
        store: Store,
        triager: Triager,
        brand_handles: &[String],
        outbox: Outbox,
    ) -> Pipeline {
        Pipeline {
            store,
            triager,
            brand_handles: brand_handles.iter().map(|h| normalize_handle(h)).collect(),
            outbox,
            sla: None,
            scheduler: SchedulerHandle::default(),
        }
    }

    /// Gives new cases a first-response clock, watched by the scheduler behind `scheduler`.
    pub fn with_sla(mut self, policy: SlaPolicy, scheduler: SchedulerHandle) -> Pipeline {
        self.sla = Some(policy);
        self.scheduler = scheduler;
        self
    }

    /// Runs until every source has dropped its sender, then returns (the drain on shutdown).
    pub async fn run(self, mut batches: mpsc::Receiver<SourceBatch>) {
        while let Some(first) = batches.recv().await {
            let mut round = vec![first];
            let mut count = round[0].mentions.len();
            while count < MAX_BATCH {
                match batches.try_recv() {
                    Ok(batch) => {
                        count += batch.mentions.len();
                        round.push(batch);
                    }
                    Err(_) => break,
                }
            }
            let result = self.ingest(&round).await;
            match &result {
                Ok(report) => tracing::info!(
                    opened = report.opened,
                    joined = report.joined,
                    duplicates = report.duplicates,
                    skipped = report.skipped,
                    "Mentions stored"
                ),
                Err(error) => tracing::error!(error = %error, "Cannot store mentions"),
            }
            for batch in round {
                let ack = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
                // A source that stopped meanwhile doesn't need the answer.
                let _ = batch.stored.send(ack);
            }
        }
        tracing::info!("Pipeline stopped");
    }

    /// Stores a round of batches in one transaction and flushes it.
    pub async fn ingest(&self, round: &[SourceBatch]) -> Result<IngestReport, StoreError> {
        let now = Utc::now();
        let report = self.store.transact(|tx| {
            let mut report = IngestReport::default();
            for batch in round {
                for mention in &batch.mentions {
                    self.ingest_one(tx, mention, now, &mut report)?;
                }
                if let Some(cursor) = &batch.cursor {
                    tx.set_cursor(&batch.source, cursor)?;
                }
            }
            Ok(report)
        })?;
        self.store.flush().await?;
        if report.opened + report.joined > 0 {
            self.outbox.wake_all();
        }
        for case in &report.opened_cases {
            self.scheduler.watch(case);
        }
        Ok(report)
    }

    fn ingest_one(
        &self,
        tx: &Tx,
        mention: &Mention,
        now: DateTime<Utc>,
        report: &mut IngestReport,
    ) -> Result<(), TxError> {
        let post_ref = mention.post_ref();
        if tx.post(&post_ref)?.is_some() {
            report.duplicates += 1;
            return Ok(());
        }
        let is_brand = mention.from_brand
            || self
                .brand_handles
                .contains(&normalize_handle(&mention.author.handle));
        let origin = if is_brand {
            PostOrigin::Brand
        } else {
            PostOrigin::Customer
        };
        let stored = |case, triage| StoredPost {
            case,
            origin,
            triage,
            mention: Some(mention.clone()),
            stored_at: now,
        };
        if let Some(case) = self.linked_case(tx, mention)? {
            if is_brand && answers_pending_reply(&case, mention) {
                // The brand's post answers the very post our queued reply answers: it is most
                // likely our reply, read back from the network before its receipt was
                // recorded (a timed-out attempt that the network accepted). The receipt will
                // record it as ours; calling it "answered outside" would be wrong.
                tracing::info!(case = %case.id, post = %mention.id, "Brand post answering the pending reply's post; taken as ours");
                tx.put_post(&post_ref, &stored(Some(case.id), None))?;
                report.joined += 1;
                return Ok(());
            }
            let command = if is_brand {
                Command::RepliedOutside {
                    mention: mention.clone(),
                }
            } else {
                Command::FollowUp {
                    mention: mention.clone(),
                }
            };
            match apply(&case, command, now) {
                Ok(transition) => {
                    tx.put_case(&transition.case)?;
                    tx.append_events(&transition.events)?;
                    self.outbox
                        .enqueue_effects(tx, &transition.case, &transition.events, now)?;
                }
                Err(refusal) => {
                    tracing::warn!(case = %case.id, refusal = %refusal, "Follow-up not applied");
                }
            }
            tx.put_post(&post_ref, &stored(Some(case.id), None))?;
            report.joined += 1;
            return Ok(());
        }
        if is_brand {
            tx.put_post(&post_ref, &stored(None, None))?;
            report.skipped += 1;
            return Ok(());
        }
        let triage = self.triager.triage(mention);
        if !self.triager.wants_card(&triage) {
            tx.put_post(&post_ref, &stored(None, Some(triage)))?;
            report.skipped += 1;
            return Ok(());
        }
        let id = tx.next_case_id()?;
        let mut opened = Case::open(id, mention.clone(), triage.clone(), now);
        opened.case.first_response_due = self.sla.map(|policy| policy.due_at(now));
        tx.put_case(&opened.case)?;
        tx.append_events(&opened.events)?;
        tx.add_author_case(&opened.case)?;
        self.outbox
            .enqueue_effects(tx, &opened.case, &opened.events, now)?;
        tx.put_post(&post_ref, &stored(Some(id), Some(triage)))?;
        report.opened += 1;
        report.opened_cases.push(opened.case);
        Ok(())
    }

    /// The case of the post this one answers, or of its conversation's root.
    fn linked_case(&self, tx: &Tx, mention: &Mention) -> Result<Option<Case>, TxError> {
        for post_ref in mention.conversation_refs() {
            if let Some(case_id) = tx.post(&post_ref)?.and_then(|post| post.case) {
                if let Some(case) = tx.case(case_id)? {
                    return Ok(Some(case));
                }
            }
        }
        Ok(None)
    }
}

/// True when `mention` (a brand post) answers the post the case's pending reply answers.
fn answers_pending_reply(case: &Case, mention: &Mention) -> bool {
    case.pending_reply.as_ref().is_some_and(|pending| {
        mention.in_reply_to.as_deref() == Some(pending.in_reply_to.id.as_str())
    })
}
