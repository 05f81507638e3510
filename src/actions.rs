//! The actions engine: clicks and form submits from every chat become case transitions.
//!
//! One task handles events one at a time. Each event is checked (length, personal data,
//! target), applied to the case as stored *inside* the transaction (so a claim is a
//! compare-and-swap: the second claimer sees the first owner), and committed together with the
//! side effects it implies; the person gets an answer only after the flush.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::chat::{ActionOutcome, ChatEvent};
use crate::domain::text::{find_pii, reply_length};
use crate::domain::{
    apply, day_start, expand, repeat_key, Agent, AuditAction, Case, ChatAction, Command, Fill,
    Kudos, Label, Mention, Moved, Permissions, Refusal, Triage,
};
use crate::outbox::Outbox;
use crate::scheduler::{SchedulerHandle, SlaPolicy};
use crate::sources::SourceClient;
use crate::store::{LabelRecord, PostOrigin, Store, StoredPost, Tx, TxError};

/// An escalation target as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its config id.
    pub id: String,
    /// Its label.
    pub label: String,
}

/// What the engine needs from config.
#[derive(Debug, Clone, Default)]
pub struct ActionSettings {
    /// Escalation targets.
    pub targets: Vec<Target>,
    /// Reply signatures by agent name or id (`"Ana" = "^AN"`).
    pub signatures: BTreeMap<String, String>,
    /// Hold replies that contain personal data until the agent confirms.
    pub require_pii_confirmation: bool,
    /// Who may reply, escalate and resolve (`[permissions]`).
    pub permissions: Permissions,
    /// The brand's name, for refusals ("reply publicly for Acme").
    pub brand: String,
    /// Hold a reply whose text (`domain::repeat_key`) was already sent publicly this many
    /// times today until the agent confirms; 0 is off.
    pub repeat_warning_after: u32,
    /// The office's time zone (`[sla.business_hours]`): "today" is its day; UTC's without.
    pub office_zone: Option<jiff::tz::TimeZone>,
    /// Approval mode: replies by people outside `[permissions].approve` wait as drafts.
    pub require_approval: bool,
}

/// The actions engine.
#[derive(Clone)]
pub struct Actions {
    store: Store,
    outbox: Outbox,
    sources: HashMap<String, Arc<dyn SourceClient>>,
    settings: Arc<ActionSettings>,
    /// Starts the first-response clock of a case opened by "Mark as complaint".
    sla: Option<SlaPolicy>,
    scheduler: SchedulerHandle,
}

impl Actions {
    /// An engine over `store`, replying through `sources`.
    pub fn new(
        store: Store,
        outbox: Outbox,
        sources: &[Arc<dyn SourceClient>],
        settings: ActionSettings,
    ) -> Actions {
        Actions {
            store,
            outbox,
            sources: sources
                .iter()
                .map(|source| (source.name().to_string(), source.clone()))
                .collect(),
            settings: Arc::new(settings),
            sla: None,
            scheduler: SchedulerHandle::default(),
        }
    }

    /// Gives cases opened by "Mark as complaint" a first-response clock, like the pipeline's.
    pub fn with_sla(mut self, policy: SlaPolicy, scheduler: SchedulerHandle) -> Actions {
        self.sla = Some(policy);
        self.scheduler = scheduler;
        self
    }

    /// Runs until every chat has dropped its sender (the drain on shutdown).
    pub async fn run(self, mut events: mpsc::Receiver<ChatEvent>) {
        while let Some(event) = events.recv().await {
            let outcome = self.handle(&event.chat, &event.agent, event.request).await;
            // The person may have closed the page meanwhile; the change stands.
            let _ = event.respond.send(outcome);
        }
        tracing::info!("Actions engine stopped");
    }

    /// Handles one request and says how it went.
    pub async fn handle(
        &self,
        chat: &str,
        agent: &Agent,
        request: crate::domain::ActionRequest,
    ) -> ActionOutcome {
        let case_id = request.case;
        if let Some(refused) = self.refuse_unpermitted(chat, agent, &request) {
            return refused;
        }
        if request.action == ChatAction::MarkComplaint {
            return self.mark_complaint(chat, agent, request.case.0).await;
        }
        if request.action == ChatAction::MarkSkipped {
            return self.mark_skipped(chat, agent, request.case.0).await;
        }
        let command = match self.command(agent, &request) {
            Ok(command) => command,
            Err(outcome) => return outcome,
        };
        let now = Utc::now();
        let dismiss_label = matches!(command, Command::Dismiss { .. });
        let queues_reply = matches!(
            command,
            Command::QueueReply { .. } | Command::ApproveDraft { .. }
        );
        let drafted = matches!(command, Command::SubmitDraft { .. });
        let result = self.store.transact(|tx| {
            let Some(case) = tx.case(case_id)? else {
                return Ok(Err(None));
            };
            let transition = match apply(&case, command.clone(), now) {
                Ok(transition) => transition,
                Err(refusal) => return Ok(Err(Some(refusal))),
            };
            tx.put_case(&transition.case)?;
            tx.append_events(&transition.events)?;
            tx.append_audit(&crate::domain::audit::records(
                &case,
                &transition.case,
                &transition.events,
            ))?;
            self.outbox
                .enqueue_effects(tx, &transition.case, &transition.events, now)?;
            if queues_reply {
                self.outbox.enqueue_reply(tx, &transition.case, now)?;
            }
            if dismiss_label {
                tx.put_label(
                    &case.opening.post_ref(),
                    &LabelRecord {
                        text: case.opening.text.clone(),
                        label: Label::Other,
                        by: agent.id.clone(),
                        at: now,
                    },
                )?;
            }
            Ok(Ok(transition.case))
        });
        let case = match result {
            Ok(Ok(case)) => case,
            Ok(Err(None)) => {
                return ActionOutcome::Refused {
                    message: format!("case {case_id} does not exist"),
                }
            }
            Ok(Err(Some(refusal))) => {
                tracing::info!(chat, case = %case_id, agent = %agent.name, refusal = %refusal, "Action refused");
                return ActionOutcome::Refused {
                    message: sentence(&refusal),
                };
            }
            Err(error) => {
                tracing::error!(chat, case = %case_id, error = %error, "Cannot record an action");
                return ActionOutcome::Refused {
                    message: "mentiondesk could not save this action; nothing was done. Try again"
                        .to_string(),
                };
            }
        };
        if let Err(error) = self.store.flush().await {
            tracing::error!(chat, case = %case_id, error = %error, "Cannot flush an action");
            return ActionOutcome::Refused {
                message: "mentiondesk could not save this action. Try again".to_string(),
            };
        }
        self.outbox.wake_all();
        tracing::info!(chat, case = %case_id, agent = %agent.name, action = ?request.action, version = case.version, "Action applied");
        let notice = match request.action {
            ChatAction::Reply { .. } if drafted => Some(
                "Draft saved: it waits for an approver (Approve, Edit draft or Reject draft on the card)"
                    .to_string(),
            ),
            ChatAction::Reply { .. } => Some(format!(
                "Reply queued: it will be posted on {} and shown in the thread",
                case.network.label()
            )),
            ChatAction::Approve | ChatAction::Edit { .. } => Some(format!(
                "Approved: the reply will be posted on {} and shown in the thread",
                case.network.label()
            )),
            ChatAction::Reject { .. } => {
                Some("Draft rejected: it is kept for its author to revise".to_string())
            }
            _ => None,
        };
        ActionOutcome::Done { notice }
    }

    /// "Mark as complaint" on a kudos card: opens a complaint case for the post (its card
    /// goes to every chat's main channel), stores the label for training, and edits the kudos
    /// card to say who moved it. The kudos is read inside the transaction, so a second click
    /// (or a retry after a crash) finds it moved and opens nothing.
    async fn mark_complaint(&self, chat: &str, agent: &Agent, kudos_id: u64) -> ActionOutcome {
        let now = Utc::now();
        let result = self.store.transact(|tx| {
            let Some(mut kudos) = tx.kudos(kudos_id)? else {
                return Ok(Err(format!("kudos {kudos_id} does not exist")));
            };
            if let Some(moved) = &kudos.moved {
                return Ok(Err(format!(
                    "Already moved to the complaint queue by {} as case {}.",
                    moved.by, moved.case
                )));
            }
            let case = self.open_as_complaint(tx, agent, &kudos.mention, now)?;
            self.record_kudos_moved(tx, &mut kudos, &case, agent, now)?;
            Ok(Ok(case))
        });
        self.moved(chat, agent, "kudos", kudos_id, result).await
    }

    /// "Mark as complaint" in the "Skipped" review: the same as on a kudos card, for any post
    /// triage stored without a card (and its kudos card, if it has one, says so too). The
    /// post is read inside the transaction: one that is part of a case already (marked by
    /// someone else, a double click, a retry) opens nothing.
    async fn mark_skipped(&self, chat: &str, agent: &Agent, entry_id: u64) -> ActionOutcome {
        let now = Utc::now();
        let result = self.store.transact(|tx| {
            let gone = || {
                Ok(Err(
                    "This post is no longer in the skipped list.".to_string()
                ))
            };
            let Some(entry) = tx.skipped(entry_id)? else {
                return gone();
            };
            let Some(post) = tx.post(&entry.post)? else {
                return gone();
            };
            if let Some(case) = post.case {
                return Ok(Err(format!(
                    "Already in the complaint queue as case {case}."
                )));
            }
            let Some(mention) = post.mention else {
                return gone();
            };
            let case = self.open_as_complaint(tx, agent, &mention, now)?;
            if let Some(mut kudos) = entry.kudos.map(|id| tx.kudos(id)).transpose()?.flatten() {
                if kudos.moved.is_none() {
                    self.record_kudos_moved(tx, &mut kudos, &case, agent, now)?;
                }
            }
            Ok(Ok(case))
        });
        self.moved(chat, agent, "skipped post", entry_id, result)
            .await
    }

    /// Opens a complaint case for a post triage did not card, in the caller's transaction:
    /// the case (first-response clock as in the pipeline) and its card, the post re-indexed
    /// to it (follow-ups join it) and a `complaint` label for training.
    fn open_as_complaint(
        &self,
        tx: &Tx,
        agent: &Agent,
        mention: &Mention,
        now: DateTime<Utc>,
    ) -> Result<Case, TxError> {
        let id = tx.next_case_id()?;
        let triage = Triage {
            label: Label::Complaint,
            score: 1.0,
            reason: format!("marked as a complaint by {}", agent.name),
        };
        let mut opened = Case::open(id, mention.clone(), triage.clone(), now);
        if let Some(policy) = &self.sla {
            policy.start_first_response(&mut opened.case);
        }
        tx.put_case(&opened.case)?;
        tx.append_events(&opened.events)?;
        self.outbox
            .enqueue_effects(tx, &opened.case, &opened.events, now)?;
        let post_ref = mention.post_ref();
        // The post keeps triage's own verdict (the review shows it); the case has the team's.
        let stored = tx.post(&post_ref)?;
        let stored_at = stored.as_ref().map_or(now, |post| post.stored_at);
        let verdict = stored.and_then(|post| post.triage).unwrap_or(triage);
        tx.put_post(
            &post_ref,
            &StoredPost {
                case: Some(id),
                origin: PostOrigin::Customer,
                triage: Some(verdict),
                mention: Some(mention.clone()),
                stored_at,
            },
        )?;
        tx.put_label(
            &post_ref,
            &LabelRecord {
                text: mention.text.clone(),
                label: Label::Complaint,
                by: agent.id.clone(),
                at: now,
            },
        )?;
        Ok(opened.case)
    }

    /// Marks a kudos moved to `case` and queues the edit of its card.
    fn record_kudos_moved(
        &self,
        tx: &Tx,
        kudos: &mut Kudos,
        case: &Case,
        agent: &Agent,
        now: DateTime<Utc>,
    ) -> Result<(), TxError> {
        kudos.moved = Some(Moved {
            case: case.id,
            by: agent.name.clone(),
            at: now,
        });
        kudos.version += 1;
        tx.put_kudos(kudos)?;
        self.outbox.enqueue_kudos(tx, kudos.id, now)
    }

    /// Flushes a move to the complaint queue and answers it (`what` and `id` name what was
    /// moved, for the logs).
    async fn moved(
        &self,
        chat: &str,
        agent: &Agent,
        what: &str,
        id: u64,
        result: Result<Result<Case, String>, crate::store::StoreError>,
    ) -> ActionOutcome {
        let case = match result {
            Ok(Ok(case)) => case,
            Ok(Err(message)) => return ActionOutcome::Refused { message },
            Err(error) => {
                tracing::error!(chat, what, id, error = %error, "Cannot mark a post as a complaint");
                return ActionOutcome::Refused {
                    message: "mentiondesk could not save this action; nothing was done. Try again"
                        .to_string(),
                };
            }
        };
        if let Err(error) = self.store.flush().await {
            tracing::error!(chat, what, id, error = %error, "Cannot flush an action");
            return ActionOutcome::Refused {
                message: "mentiondesk could not save this action. Try again".to_string(),
            };
        }
        self.outbox.wake_all();
        self.scheduler.watch(&case);
        tracing::info!(chat, what, id, case = %case.id, agent = %agent.name, "Post marked as a complaint");
        ActionOutcome::Done {
            notice: Some(format!("Moved to the complaint queue as case {}", case.id)),
        }
    }

    /// The private refusal for someone `[permissions]` does not allow to do this, logged;
    /// `None` when they may. Runs before anything else, so a refused person learns nothing
    /// about the case or the form.
    fn refuse_unpermitted(
        &self,
        chat: &str,
        agent: &Agent,
        request: &crate::domain::ActionRequest,
    ) -> Option<ActionOutcome> {
        let (permission, message) =
            self.settings
                .permissions
                .refusal(&request.action, agent, &self.settings.brand)?;
        let verb = request.action.kind().verb();
        tracing::warn!(
            chat,
            case = %request.case,
            agent = %agent.id,
            agent_name = %agent.name,
            action = verb,
            permission = permission.key(),
            "Action not permitted"
        );
        Some(ActionOutcome::Refused { message })
    }

    /// Checks the request's fields and turns it into a domain command.
    fn command(
        &self,
        agent: &Agent,
        request: &crate::domain::ActionRequest,
    ) -> Result<Command, ActionOutcome> {
        let by = agent.clone();
        Ok(match &request.action {
            ChatAction::Claim => Command::Claim { by },
            ChatAction::Unclaim => Command::Unclaim { by },
            ChatAction::Resolve => Command::Resolve { by },
            ChatAction::Dismiss => Command::Dismiss { by },
            ChatAction::Reopen => Command::Reopen { by },
            ChatAction::MarkComplaint | ChatAction::MarkSkipped => {
                return Err(ActionOutcome::Refused {
                    message: "only a kudos card or a skipped post can be marked as a complaint"
                        .to_string(),
                })
            }
            ChatAction::Escalate { target, note } => {
                let Some(found) = self.settings.targets.iter().find(|t| &t.id == target) else {
                    return Err(ActionOutcome::Invalid {
                        field: "target".to_string(),
                        message: format!("unknown escalation target {target:?}"),
                    });
                };
                Command::Escalate {
                    by,
                    target: found.id.clone(),
                    label: found.label.clone(),
                    note: note.trim().to_string(),
                }
            }
            ChatAction::Reply { text, confirm_pii } => {
                let text = self.check_reply(agent, request, text, *confirm_pii, true)?;
                let approver = self
                    .settings
                    .permissions
                    .allows(crate::domain::Permission::Approve, agent);
                if self.settings.require_approval && !approver {
                    Command::SubmitDraft {
                        by,
                        text,
                        form_version: request.version,
                    }
                } else {
                    Command::QueueReply {
                        by,
                        text,
                        form_version: request.version,
                    }
                }
            }
            ChatAction::Approve => Command::ApproveDraft { by, edited: None },
            ChatAction::Edit { text, confirm_pii } => {
                // The draft already carries its author's signature; the approver's edit is
                // checked as any reply but not signed again.
                let text = self.check_reply(agent, request, text, *confirm_pii, false)?;
                Command::ApproveDraft {
                    by,
                    edited: Some(text),
                }
            }
            ChatAction::Reject { reason } => Command::RejectDraft {
                by,
                reason: reason.clone(),
            },
        })
    }

    /// The final reply text (signature added), or why it can't be posted as it is.
    fn check_reply(
        &self,
        agent: &Agent,
        request: &crate::domain::ActionRequest,
        text: &str,
        confirm_pii: bool,
        sign: bool,
    ) -> Result<String, ActionOutcome> {
        let invalid = |message: String| ActionOutcome::Invalid {
            field: "text".to_string(),
            message,
        };
        let case = match self.store.case(request.case) {
            Ok(Some(case)) => case,
            Ok(None) => {
                return Err(ActionOutcome::Refused {
                    message: format!("case {} does not exist", request.case),
                })
            }
            Err(error) => {
                return Err(ActionOutcome::Refused {
                    message: format!("cannot read the case: {error}"),
                })
            }
        };
        // Placeholders left in the text (a saved reply picked where the form could not fill
        // it in) are filled here, so every chat posts the same text.
        let expanded = expand(text, &Fill::new(&case, agent));
        let typed = expanded.trim();
        let prefill = crate::domain::reply_prefill(&case);
        if typed.is_empty() || typed == prefill.trim() {
            return Err(invalid("write the reply first".to_string()));
        }
        let signature = self
            .settings
            .signatures
            .get(&agent.id)
            .or_else(|| self.settings.signatures.get(&agent.name))
            .filter(|_| sign);
        let text = match signature {
            Some(signature) => format!("{typed} {signature}"),
            None => typed.to_string(),
        };
        let limit = self
            .sources
            .get(&case.source)
            .map(|source| source.reply_limit(case.network))
            .unwrap_or_else(|| case.network.default_reply_limit());
        let length = reply_length(case.network, &text);
        if length > limit {
            let with_signature = if signature.is_some() {
                " (with your signature)"
            } else {
                ""
            };
            return Err(invalid(format!(
                "{length} of {limit} characters{with_signature}: {} too long for {}",
                length - limit,
                case.network.label()
            )));
        }
        if confirm_pii {
            return Ok(text);
        }
        // One hold, one confirmation: every reason to think twice is named at once.
        let mut warnings = Vec::new();
        let found = find_pii(&text);
        if !found.is_empty() && self.settings.require_pii_confirmation {
            let mut kinds: Vec<&str> = found.iter().map(|(_, kind)| kind.label()).collect();
            kinds.dedup();
            warnings.push(format!(
                "This public reply contains a {}. Everyone will see it.",
                kinds.join(" and a ")
            ));
        }
        warnings.extend(self.repeat_warning(&text));
        if !warnings.is_empty() {
            return Err(ActionOutcome::ConfirmPii {
                warning: format!("{} Send anyway?", warnings.join(" ")),
            });
        }
        Ok(text)
    }

    /// The warning for a text already sent publicly `repeat_warning_after` times today (the
    /// office's day), counted from the audit log so it holds across restarts; `None` when it
    /// may go out without asking.
    fn repeat_warning(&self, text: &str) -> Option<String> {
        let limit = self.settings.repeat_warning_after;
        if limit == 0 {
            return None;
        }
        let since = day_start(Utc::now(), self.settings.office_zone.as_ref());
        let records = match self.store.audit_since(since) {
            Ok(records) => records,
            Err(error) => {
                // Not knowing is no reason to hold a reply: the warning is advice.
                tracing::warn!(error = %error, "Cannot count today's replies for the repeat warning");
                return None;
            }
        };
        let key = repeat_key(text);
        let sent = records
            .iter()
            .filter(|record| record.action == AuditAction::ReplySent)
            .filter(|record| record.text.as_deref().map(repeat_key).as_deref() == Some(&key))
            .count();
        (sent >= limit as usize).then(|| {
            format!(
                "This text was already sent publicly {sent} times today: identical answers look automated."
            )
        })
    }
}

/// A refusal as a sentence for the person: capitalized, with a final period.
fn sentence(refusal: &Refusal) -> String {
    let text = refusal.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::{
        ActionRequest, Author, Case, CaseId, CaseState, Mention, MentionKind, Network, Principal,
        Triage,
    };

    fn mention() -> Mention {
        Mention {
            network: Network::Bluesky,
            source: "main".to_string(),
            id: "post-1".to_string(),
            url: "https://bsky.app/profile/cus/post/1".to_string(),
            author: Author {
                id: "did:plc:cus".to_string(),
                handle: "cus.bsky.social".to_string(),
                display_name: None,
                followers: None,
            },
            text: "my order never arrived".to_string(),
            created_at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
            in_reply_to: None,
            root: None,
            kind: MentionKind::Mention,
            lang: None,
            from_brand: false,
            raw: None,
        }
    }

    /// An engine over a fresh store holding case 1, with these permissions.
    fn engine(permissions: Permissions) -> (tempfile::TempDir, Actions) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("sled")).expect("store");
        let opened = Case::open(
            CaseId(1),
            mention(),
            Triage {
                label: Label::Complaint,
                score: 0.9,
                reason: "never arrived".to_string(),
            },
            Utc::now(),
        );
        store
            .transact(|tx| {
                tx.put_case(&opened.case)?;
                tx.append_events(&opened.events)
            })
            .expect("case stored");
        let outbox = Outbox::new(&["console".to_string()], &["main".to_string()]);
        let settings = ActionSettings {
            targets: vec![Target {
                id: "billing".to_string(),
                label: "Billing".to_string(),
            }],
            permissions,
            brand: "Acme".to_string(),
            ..ActionSettings::default()
        };
        (dir, Actions::new(store, outbox, &[], settings))
    }

    fn principals(list: &[&str]) -> Vec<Principal> {
        list.iter()
            .map(|text| Principal::parse(text).expect("principal"))
            .collect()
    }

    async fn act(actions: &Actions, agent: &Agent, action: ChatAction) -> ActionOutcome {
        let version = actions.store.case(CaseId(1)).unwrap().unwrap().version;
        let request = ActionRequest {
            case: CaseId(1),
            version,
            action,
        };
        actions.handle("console", agent, request).await
    }

    fn reply() -> ChatAction {
        ChatAction::Reply {
            text: "@cus.bsky.social sorry, we are on it".to_string(),
            confirm_pii: false,
        }
    }

    fn escalate() -> ChatAction {
        ChatAction::Escalate {
            target: "billing".to_string(),
            note: "refund".to_string(),
        }
    }

    fn refused(outcome: &ActionOutcome, expected: &str) {
        match outcome {
            ActionOutcome::Refused { message } => assert_eq!(message, expected),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn only_listed_people_and_groups_may_reply_escalate_and_close() {
        let (_dir, actions) = engine(Permissions::restricted(
            principals(&["console:ana", "slack-group:S0LEADS"]),
            principals(&["console:*"]),
            principals(&["slack:U0CHIEF"]),
        ));
        let bo = Agent::new("console:bo", "Bo");
        let ana = Agent::new("console:ana", "Ana");
        let lead = Agent {
            groups: vec!["slack-group:S0LEADS".to_string()],
            ..Agent::new("slack:U0LEAD", "Lee")
        };
        let chief = Agent::new("slack:U0CHIEF", "Chief");

        // Claiming is open to everyone.
        assert_eq!(
            act(&actions, &bo, ChatAction::Claim).await,
            ActionOutcome::Done { notice: None }
        );
        refused(
            &act(&actions, &bo, reply()).await,
            "You are not allowed to reply publicly for Acme. Ask an admin to add you to [permissions].reply.",
        );
        refused(
            &act(&actions, &lead, escalate()).await,
            "You are not allowed to escalate cases for Acme. Ask an admin to add you to [permissions].escalate.",
        );
        refused(
            &act(&actions, &ana, ChatAction::Resolve).await,
            "You are not allowed to resolve cases for Acme. Ask an admin to add you to [permissions].resolve.",
        );
        refused(
            &act(&actions, &bo, ChatAction::Dismiss).await,
            "You are not allowed to dismiss cases for Acme. Ask an admin to add you to [permissions].resolve.",
        );
        // Nothing refused changed the case: only the claim happened.
        let case = actions.store.case(CaseId(1)).unwrap().unwrap();
        assert_eq!((case.version, case.state), (2, CaseState::Claimed));
        assert!(case.pending_reply.is_none() && case.escalations.is_empty());

        assert!(matches!(
            act(&actions, &lead, reply()).await,
            ActionOutcome::Done { .. }
        ));
        assert!(matches!(
            act(&actions, &bo, escalate()).await,
            ActionOutcome::Done { .. }
        ));
        assert!(matches!(
            act(&actions, &chief, ChatAction::Resolve).await,
            ActionOutcome::Done { .. }
        ));
        refused(
            &act(&actions, &bo, ChatAction::Reopen).await,
            "You are not allowed to reopen cases for Acme. Ask an admin to add you to [permissions].resolve.",
        );
        assert!(matches!(
            act(&actions, &chief, ChatAction::Reopen).await,
            ActionOutcome::Done { .. }
        ));
        let case = actions.store.case(CaseId(1)).unwrap().unwrap();
        assert_eq!(
            case.pending_reply.as_ref().map(|p| p.by.id.as_str()),
            Some("slack:U0LEAD")
        );
        assert_eq!(case.escalations[0].by.id, "console:bo");
    }

    #[tokio::test]
    async fn without_permissions_everyone_may_act() {
        let (_dir, actions) = engine(Permissions::everyone());
        let bo = Agent::new("console:bo", "Bo");
        assert!(matches!(
            act(&actions, &bo, reply()).await,
            ActionOutcome::Done { .. }
        ));
        assert!(matches!(
            act(&actions, &bo, escalate()).await,
            ActionOutcome::Done { .. }
        ));
        assert!(matches!(
            act(&actions, &bo, ChatAction::Resolve).await,
            ActionOutcome::Done { .. }
        ));
    }
}
