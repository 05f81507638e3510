//! The pipeline: stored-once mentions, follow-ups joined to their case, complaints opened.
//!
//! Batches from every source are stored in one transaction and one flush per round (a storm
//! does not pay one fsync per post); the sources' cursors advance in that same transaction.
//! Dedupe is by (network, post id). A post replying to, or rooted in, a post of a case joins
//! that case; the brand's own posts there become `replied_outside`. Near-identical complaints
//! within a window join the first one's case as an incident (`storm.rs`): each member post
//! is stored and indexed to the incident, and each incident that grew gets one card sync and
//! a few batched member notes per round, however many posts joined.

pub mod spike;
pub mod storm;
pub mod triage;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::domain::{
    apply, normalize_handle, Case, CaseId, Command, Kudos, Label, Mention, StormMember,
};
use crate::outbox::Outbox;
use crate::scheduler::{SchedulerHandle, SlaPolicy};
use crate::sources::SourceBatch;
use crate::store::{PostOrigin, SkippedEntry, Store, StoreError, StoredPost, Tx, TxError};
use storm::{Signature, StormDecision, StormRules, StormWindow};
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
    /// Cases whose next-response clock started (a follow-up by an answered customer).
    pub clocks_started: Vec<Case>,
    /// Complaints collapsed into an incident (storm collapse).
    pub collapsed: usize,
    /// Praise posted as kudos cards (also counted in `skipped`).
    pub kudos: usize,
}

/// The pipeline task's state.
#[derive(Debug, Clone)]
pub struct Pipeline {
    store: Store,
    /// The triager, read once per round: the retraining task swaps in a new model through it.
    triager: watch::Receiver<Arc<Triager>>,
    brand_handles: Vec<String>,
    outbox: Outbox,
    sla: Option<SlaPolicy>,
    scheduler: SchedulerHandle,
    storm_rules: StormRules,
    /// The storm window as of the last committed round; each round works on a copy (sled may
    /// run a transaction twice) and replaces it after the commit.
    storm: Arc<Mutex<StormWindow>>,
    spikes: Option<spike::SpikeHandle>,
    /// Praise gets a kudos card (`[triage].kudos`).
    kudos: bool,
}

/// What one round changes beside the store: the storm window and the incidents' new members.
struct Round {
    window: StormWindow,
    members: BTreeMap<CaseId, Vec<StormMember>>,
    /// The complaints stored (handle, text), for the spike detector.
    complaints: Vec<(String, String)>,
    /// Clusters to write at the end of the round.
    changed: BTreeSet<CaseId>,
    /// Incidents known to be open in this round.
    open_incidents: BTreeSet<CaseId>,
    /// The triager as of the round's start.
    triager: Arc<Triager>,
}

impl Pipeline {
    /// A pipeline storing into `store`, with the brand's own handles.
    pub fn new(
        store: Store,
        triager: Triager,
        brand_handles: &[String],
        outbox: Outbox,
    ) -> Pipeline {
        let (_, triager) = watch::channel(Arc::new(triager));
        Pipeline::live(store, triager, brand_handles, outbox)
    }

    /// A pipeline whose triager may change while it runs (see `training::Retrainer`).
    pub fn live(
        store: Store,
        triager: watch::Receiver<Arc<Triager>>,
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
            storm_rules: StormRules {
                enabled: false,
                ..StormRules::default()
            },
            storm: Arc::default(),
            spikes: None,
            kudos: false,
        }
    }

    /// Posts praise as kudos cards in the chats' kudos channels (`[triage].kudos`).
    pub fn with_kudos(mut self, kudos: bool) -> Pipeline {
        self.kudos = kudos;
        self
    }

    /// Counts every complaint it stores in the spike detector behind `spikes`.
    pub fn with_spikes(mut self, spikes: spike::SpikeHandle) -> Pipeline {
        self.spikes = Some(spikes);
        self
    }

    /// Collapses near-identical complaints into incidents, starting from the window the store
    /// kept (so a restart in the middle of a storm keeps adding to the same incident).
    pub fn with_storm(mut self, rules: StormRules) -> Result<Pipeline, StoreError> {
        let clusters = self.store.storm_clusters()?;
        self.storm_rules = rules;
        self.storm = Arc::new(Mutex::new(StormWindow::new(clusters)));
        Ok(self)
    }

    fn storm_window(&self) -> std::sync::MutexGuard<'_, StormWindow> {
        self.storm
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
                    collapsed = report.collapsed,
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
        self.ingest_at(round, Utc::now()).await
    }

    /// `ingest` with "now" given: the time cases open and clocks start (tests pick a Friday
    /// evening).
    pub async fn ingest_at(
        &self,
        round: &[SourceBatch],
        now: DateTime<Utc>,
    ) -> Result<IngestReport, StoreError> {
        let window = self.storm_window().clone();
        let triager = self.triager.borrow().clone();
        let (report, window, complaints) = self.store.transact(|tx| {
            let mut report = IngestReport::default();
            let mut storm = Round {
                window: window.clone(),
                members: BTreeMap::new(),
                complaints: Vec::new(),
                changed: BTreeSet::new(),
                open_incidents: BTreeSet::new(),
                triager: triager.clone(),
            };
            for expired in storm.window.expire(&self.storm_rules, now) {
                tx.remove_storm_cluster(expired)?;
            }
            for batch in round {
                for mention in &batch.mentions {
                    self.ingest_one(tx, mention, now, &mut report, &mut storm)?;
                }
                if let Some(cursor) = &batch.cursor {
                    tx.set_cursor(&batch.source, cursor)?;
                }
            }
            for cluster in storm.window.clusters() {
                if storm.changed.contains(&cluster.case) {
                    tx.put_storm_cluster(cluster.case, cluster)?;
                }
            }
            for (case_id, members) in std::mem::take(&mut storm.members) {
                self.collapse(tx, case_id, members, now)?;
            }
            Ok((report, storm.window, storm.complaints))
        })?;
        *self.storm_window() = window;
        if let Some(spikes) = &self.spikes {
            for (handle, text) in &complaints {
                spikes.observe(handle, text);
            }
        }
        tracing::debug!("Round written; flushing");
        self.store.flush().await?;
        if report.opened + report.joined + report.collapsed + report.kudos > 0 {
            self.outbox.wake_all();
        }
        for case in report.opened_cases.iter().chain(&report.clocks_started) {
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
        storm: &mut Round,
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
                Ok(mut transition) => {
                    if let Some(policy) = &self.sla {
                        if policy.start_next_response(&mut transition.case) {
                            report.clocks_started.push(transition.case.clone());
                        }
                    }
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
        let triage = storm.triager.triage(mention);
        if !storm.triager.wants_card(&triage) {
            let mut kudos_id = None;
            if self.kudos && triage.label == Label::Praise {
                let kudos = Kudos {
                    id: tx.next_kudos_id()?,
                    version: 0,
                    mention: mention.clone(),
                    triage: triage.clone(),
                    chat_refs: BTreeMap::new(),
                    moved: None,
                    at: now,
                };
                tx.put_kudos(&kudos)?;
                self.outbox.enqueue_kudos(tx, kudos.id, now)?;
                report.kudos += 1;
                kudos_id = Some(kudos.id);
            }
            tx.put_post(&post_ref, &stored(None, Some(triage)))?;
            // Listed in the "Skipped" review, where a misread complaint can be rescued.
            tx.add_skipped(&SkippedEntry {
                post: post_ref.clone(),
                kudos: kudos_id,
            })?;
            report.skipped += 1;
            return Ok(());
        }
        if self.spikes.is_some() {
            storm
                .complaints
                .push((mention.author.handle.clone(), mention.text.clone()));
        }
        let signature = Signature::of(&mention.text);
        let mut starts_cluster = true;
        loop {
            let (decision, _) = storm.window.observe(&self.storm_rules, &signature, now);
            match decision {
                StormDecision::Open => break,
                StormDecision::OpenCounted { case } => {
                    storm.changed.insert(case);
                    starts_cluster = false;
                    break;
                }
                StormDecision::Join { case } => {
                    let open = storm.open_incidents.contains(&case)
                        || tx.case(case)?.is_some_and(|c| !c.state.is_closed());
                    if !open {
                        // A closed (or lost) case takes no members: the next storm is new work.
                        storm.window.forget(case);
                        storm.changed.remove(&case);
                        tx.remove_storm_cluster(case)?;
                        continue;
                    }
                    storm.open_incidents.insert(case);
                    storm.changed.insert(case);
                    tx.put_post(&post_ref, &stored(Some(case), Some(triage)))?;
                    storm.members.entry(case).or_default().push(StormMember {
                        post_id: mention.id.clone(),
                        author_handle: mention.author.handle.clone(),
                        url: mention.url.clone(),
                    });
                    report.collapsed += 1;
                    return Ok(());
                }
            }
        }
        let id = tx.next_case_id()?;
        let mut opened = Case::open(id, mention.clone(), triage.clone(), now);
        if let Some(policy) = &self.sla {
            policy.start_first_response(&mut opened.case);
            // Out of hours, a new complaint also goes to the on-call target at once.
            if let Some(escalate) = policy.out_of_hours_escalation(now) {
                crate::scheduler::escalate_in(
                    tx,
                    &mut opened.case,
                    &mut opened.events,
                    escalate,
                    now,
                )?;
            }
        }
        tx.put_case(&opened.case)?;
        tx.append_events(&opened.events)?;
        self.outbox
            .enqueue_effects(tx, &opened.case, &opened.events, now)?;
        // The post that opens a case is kept once, as the case's `opening`; its record is
        // derived from the case (the store keeps a marker for it).
        tx.put_post(&post_ref, &StoredPost::opening_of(&opened.case))?;
        report.opened += 1;
        report.opened_cases.push(opened.case);
        if self.storm_rules.enabled && starts_cluster && !signature.is_empty() {
            storm.window.start(id, signature, now);
            storm.changed.insert(id);
        }
        Ok(())
    }

    /// Adds a round's members to an incident: one case change, one card sync and a note per
    /// [`crate::domain::event::MEMBERS_PER_NOTE`] members.
    fn collapse(
        &self,
        tx: &Tx,
        case_id: CaseId,
        members: Vec<StormMember>,
        now: DateTime<Utc>,
    ) -> Result<(), TxError> {
        let Some(case) = tx.case(case_id)? else {
            return Ok(());
        };
        match apply(&case, Command::Collapse { members }, now) {
            Ok(transition) => {
                tx.put_case(&transition.case)?;
                tx.append_events(&transition.events)?;
                self.outbox
                    .enqueue_effects(tx, &transition.case, &transition.events, now)?;
            }
            Err(refusal) => {
                tracing::warn!(case = %case.id, refusal = %refusal, "Incident members not added");
            }
        }
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
