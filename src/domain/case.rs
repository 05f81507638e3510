//! Cases and their state machine.
//!
//! A `Case` is one customer conversation. It is opened by a complaint; later posts in the same
//! conversation join it. Every change goes through [`apply`], a pure function that returns the
//! next case and the events it implies, or a [`Refusal`] that explains to the person why not.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{member_chunks, CaseEvent, EventKind, StormMember};
use super::mention::{Author, Mention, Network, PostRef};

/// A case's number, unique within one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub u64);

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl std::str::FromStr for CaseId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim_start_matches('#')
            .parse::<u64>()
            .map(CaseId)
            .map_err(|_| format!("invalid case id {s:?}"))
    }
}

/// A team member acting through a chat. The id is qualified by the chat (`slack:U123`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Chat-qualified id, stable across renames.
    pub id: String,
    /// The name shown on cards and in threads.
    pub name: String,
    /// The groups or roles the chat says the person belongs to, as principals
    /// (`slack-group:S0123ABCD`, `discord-role:123456789012345678`), for `[permissions]`.
    /// Adapters fill it only with the groups named in config; kept with the agent so an
    /// event shows the authority an action was taken with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Agent {
    /// An agent without groups.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Agent {
        Agent {
            id: id.into(),
            name: name.into(),
            groups: Vec::new(),
        }
    }
}

/// What triage decided a post is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Something went wrong for the customer.
    Complaint,
    /// The customer asks something.
    Question,
    /// The customer is happy.
    Praise,
    /// Anything else.
    Other,
}

impl Label {
    /// The lowercase name used in config and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Complaint => "complaint",
            Label::Question => "question",
            Label::Praise => "praise",
            Label::Other => "other",
        }
    }
}

impl std::str::FromStr for Label {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "complaint" => Ok(Label::Complaint),
            "question" => Ok(Label::Question),
            "praise" => Ok(Label::Praise),
            "other" => Ok(Label::Other),
            other => Err(format!("unknown label {other:?}")),
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Triage's verdict on a post: a label, a score in 0..=1 and the reason a person can read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    /// The label.
    pub label: Label,
    /// How sure triage is that the label is right, 0..=1.
    pub score: f32,
    /// One line: the cues that drove the decision.
    pub reason: String,
}

/// Where a case stands. `escalated` is not a state: it is a list on the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Nobody has picked it up.
    New,
    /// Someone owns it; no public reply yet.
    Claimed,
    /// The brand answered publicly.
    Replied,
    /// The customer wrote again after our reply: back to the owner's attention.
    CustomerReplied,
    /// Done.
    Resolved,
    /// Not a complaint after all.
    Dismissed,
}

impl CaseState {
    /// The name shown on cards.
    pub fn label(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Claimed => "claimed",
            CaseState::Replied => "replied",
            CaseState::CustomerReplied => "customer replied",
            CaseState::Resolved => "resolved",
            CaseState::Dismissed => "not a complaint",
        }
    }

    /// Resolved and dismissed cases take no work until reopened.
    pub fn is_closed(self) -> bool {
        matches!(self, CaseState::Resolved | CaseState::Dismissed)
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a card lives in one chat: enough to edit it and to thread under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// The chat's channel id.
    pub channel: String,
    /// The chat's message id (Slack `ts`, Discord message id).
    pub message: String,
    /// The thread id when the chat keeps threads apart from messages (Discord).
    #[serde(default)]
    pub thread: Option<String>,
}

/// A hand-off to an escalation target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// The target's id from config.
    pub target: String,
    /// The target's label from config, kept so old cases read well after config changes.
    pub label: String,
    /// Who escalated.
    pub by: Agent,
    /// The internal note; never posted publicly.
    pub note: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A public reply the network accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentReply {
    /// The reply action's id; the idempotency key on the network.
    pub reply_id: String,
    /// Who wrote it.
    pub by: Agent,
    /// What was posted.
    pub text: String,
    /// The network's id of our post.
    pub post_id: String,
    /// A link to our post, when the network gives one.
    pub url: Option<String>,
    /// When the network accepted it.
    pub at: DateTime<Utc>,
}

/// A public reply recorded and waiting to be posted by the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingReply {
    /// The reply action's id; the idempotency key on the network.
    pub reply_id: String,
    /// Who wrote it.
    pub by: Agent,
    /// The exact text to post.
    pub text: String,
    /// The customer's post we answer.
    pub in_reply_to: PostRef,
    /// The conversation's first post.
    pub root: PostRef,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// The approver who let it out, in approval mode (`by` stays its author).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<Agent>,
}

/// A reply written in approval mode (`[replies].require_approval`), waiting for an approver:
/// Approve queues it as a public reply, Edit queues the approver's version, Reject keeps it
/// as the case's draft for its author to revise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDraft {
    /// Who wrote it.
    pub by: Agent,
    /// The text, checked and signed as a reply is.
    pub text: String,
    /// The case version the reply form was opened at.
    pub form_version: u64,
    /// When it was submitted.
    pub at: DateTime<Utc>,
}

/// The text of a reply that failed, kept so nobody has to type it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// Who wrote it.
    pub by: Agent,
    /// The text.
    pub text: String,
    /// What the network said.
    pub error: String,
}

/// One customer conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The case number.
    pub id: CaseId,
    /// Bumped by every change; buttons carry it so stale clicks can be told apart.
    pub version: u64,
    /// Where the case stands.
    pub state: CaseState,
    /// Who owns it.
    pub owner: Option<Agent>,
    /// The configured source that delivered the opening post; replies go back through it.
    pub source: String,
    /// The network of the conversation.
    pub network: Network,
    /// The post that opened the case. Never changed after [`Case::open`]: the case's opening
    /// event is derived from it ([`CaseEvent::opening_of`]) and the store keeps no copy.
    pub opening: Mention,
    /// The customer who opened it.
    pub customer: Author,
    /// The customer's latest post in the conversation: the one a public reply answers.
    pub latest_customer_post: PostRef,
    /// The conversation's first post.
    pub conversation_root: PostRef,
    /// Triage's verdict on the opening post. Never changed after [`Case::open`] (see
    /// `opening`).
    pub triage: Triage,
    /// Hand-offs, oldest first.
    pub escalations: Vec<Escalation>,
    /// Public replies the network accepted, oldest first.
    pub replies: Vec<SentReply>,
    /// A public reply recorded but not yet posted.
    pub pending_reply: Option<PendingReply>,
    /// The last failed reply's text.
    pub draft: Option<Draft>,
    /// How many later posts joined the case.
    pub follow_ups: u32,
    /// The case's card in each chat, by chat name.
    pub chat_refs: BTreeMap<String, MessageRef>,
    /// The case version each chat's card last showed, by chat name: a card sync for a version
    /// already shown is skipped, so a burst of changes costs one edit, not one per change.
    #[serde(default)]
    pub card_versions: BTreeMap<String, u64>,
    /// When the case was opened.
    pub opened_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the brand first answered publicly (through the bot or not).
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved or dismissed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The sequence number the next event gets.
    pub next_event_seq: u32,
    /// The version at which the last reply was queued or seen; a reply form opened before it
    /// is stale, so two people can't answer the customer twice.
    pub reply_guard: u64,
    /// When the first public response is due (`[sla]`), if the case has a clock.
    #[serde(default)]
    pub first_response_due: Option<DateTime<Utc>>,
    /// The first-response warning was threaded.
    #[serde(default)]
    pub sla_warned: bool,
    /// The first-response deadline passed without an answer.
    #[serde(default)]
    pub sla_breached: bool,
    /// When the first-response warning is due (a share of the target, in business time);
    /// cases stored before it existed compute it from the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_warning_at: Option<DateTime<Utc>>,
    /// Since when a follow-up by the customer waits for our next public answer (only once we
    /// answered at least once; cleared by an answer or by closing the case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_reply_since: Option<DateTime<Utc>>,
    /// The next-response clock, while one runs (`[sla]` sets it when `awaiting_reply_since`
    /// starts; an answer or closing the case stops it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_response: Option<ResponseClock>,
    /// Near-identical posts by others collapsed into this case (storm collapse): more than 0
    /// makes the case an incident.
    #[serde(default)]
    pub similar_posts: u32,
    /// A reply draft waiting for an approver (approval mode); at most one per case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_approval: Option<ApprovalDraft>,
}

/// A response clock after the first: from the customer's follow-up to our next answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseClock {
    /// When it started (the follow-up's arrival).
    pub started_at: DateTime<Utc>,
    /// When the warning comes.
    pub warning_at: DateTime<Utc>,
    /// When the answer is due.
    pub due_at: DateTime<Utc>,
    /// The warning was threaded.
    #[serde(default)]
    pub warned: bool,
    /// The deadline passed without an answer.
    #[serde(default)]
    pub breached: bool,
}

/// A change someone or something asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Take ownership.
    Claim {
        /// Who.
        by: Agent,
    },
    /// Give ownership back.
    Unclaim {
        /// Who.
        by: Agent,
    },
    /// Record a public reply to post.
    QueueReply {
        /// Who wrote it.
        by: Agent,
        /// The final text (signature included).
        text: String,
        /// The case version the reply form was opened at.
        form_version: u64,
    },
    /// The network accepted the pending reply.
    ReplySent {
        /// The pending reply's id.
        reply_id: String,
        /// The network's id of our post.
        post_id: String,
        /// A link to it.
        url: Option<String>,
    },
    /// The network refused the pending reply, or it kept failing.
    ReplyFailed {
        /// The pending reply's id.
        reply_id: String,
        /// What went wrong, for the thread.
        error: String,
    },
    /// Hand the case to a target.
    Escalate {
        /// Who.
        by: Agent,
        /// The target's id.
        target: String,
        /// The target's label.
        label: String,
        /// The internal note.
        note: String,
    },
    /// Close as done.
    Resolve {
        /// Who.
        by: Agent,
    },
    /// Close as not a complaint.
    Dismiss {
        /// Who.
        by: Agent,
    },
    /// Open again.
    Reopen {
        /// Who.
        by: Agent,
    },
    /// A later post by the customer (or someone else) in the conversation.
    FollowUp {
        /// The post.
        mention: Mention,
    },
    /// The brand's account answered in the conversation without the bot.
    RepliedOutside {
        /// The brand's post.
        mention: Mention,
    },
    /// An escalation target's webhook took the hand-off (and maybe returned a ticket link).
    EscalationDelivered {
        /// The target's id.
        target: String,
        /// The target's label.
        label: String,
        /// The ticket link the webhook returned, if any.
        link: Option<String>,
    },
    /// An escalation target's webhook refused the hand-off or kept failing.
    EscalationFailed {
        /// The target's id.
        target: String,
        /// The target's label.
        label: String,
        /// What went wrong.
        error: String,
    },
    /// The first-response deadline is near.
    SlaWarning,
    /// The first-response deadline passed.
    SlaBreach,
    /// The next-response deadline `due_at` is near (a clock restarted since is not warned).
    NextResponseWarning {
        /// The deadline of the clock the warning is for.
        due_at: DateTime<Utc>,
    },
    /// The next-response deadline `due_at` passed.
    NextResponseBreach {
        /// The deadline of the clock the breach is for.
        due_at: DateTime<Utc>,
    },
    /// Near-identical posts join the case as members of an incident (storm collapse).
    Collapse {
        /// The posts, in the order they arrived.
        members: Vec<StormMember>,
    },
    /// Approval mode: keep a reply as a draft for an approver.
    SubmitDraft {
        /// Who wrote it.
        by: Agent,
        /// The final text (signature included).
        text: String,
        /// The case version the reply form was opened at.
        form_version: u64,
    },
    /// Approval mode: queue the pending draft as a public reply, as written or as edited.
    ApproveDraft {
        /// The approver.
        by: Agent,
        /// The approver's version of the text; `None` approves the draft as written.
        edited: Option<String>,
    },
    /// Approval mode: send the pending draft back to its author.
    RejectDraft {
        /// The approver.
        by: Agent,
        /// Why, for the author (may be empty).
        reason: String,
    },
}

/// Why a command can't be applied, in words for the person who asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// Someone else owns the case.
    #[error("already claimed by {}", .owner.name)]
    AlreadyClaimed {
        /// The owner.
        owner: Agent,
    },
    /// Only the owner may unclaim.
    #[error("only {} can unclaim this case", .owner.name)]
    NotOwner {
        /// The owner.
        owner: Agent,
    },
    /// Unclaim on an unowned case.
    #[error("this case is not claimed")]
    NotClaimed,
    /// The case is resolved or dismissed.
    #[error("this case is {state}: reopen it first")]
    Closed {
        /// Its state.
        state: CaseState,
    },
    /// The case is already in the asked-for state.
    #[error("this case is already {state}")]
    AlreadyInState {
        /// Its state.
        state: CaseState,
    },
    /// A reply is being posted.
    #[error("a public reply is already being posted for this case")]
    ReplyInFlight,
    /// Someone answered the customer after the form was opened.
    #[error("someone answered this customer after you opened the form: read the thread, then reply again if still needed")]
    StaleReply,
    /// The case was already handed to that target.
    #[error("already escalated to {label}")]
    AlreadyEscalated {
        /// The target's label.
        label: String,
    },
    /// A hand-off outcome for a target the case was never escalated to.
    #[error("not escalated to {label}")]
    NotEscalated {
        /// The target's label.
        label: String,
    },
    /// Reopen on an open case.
    #[error("this case is open already")]
    NotClosed,
    /// The first-response clock no longer runs: answered, closed, or never started.
    #[error("the first-response clock is not running")]
    SlaStopped,
    /// The warning or breach was already noted.
    #[error("already noted")]
    SlaAlreadyNoted,
    /// Someone else's draft already waits for approval on this case.
    #[error("{}'s draft is awaiting approval on this case: an approver can edit or reject it, then you can submit yours", .author.name)]
    DraftPending {
        /// Its author.
        author: Agent,
    },
    /// Approve, Edit or Reject with no draft waiting.
    #[error("no draft is awaiting approval on this case")]
    NoDraft,
    /// An approver tried to approve their own draft.
    #[error("you wrote this draft: another approver must approve it")]
    OwnDraft,
    /// A reply outcome for a reply that isn't pending (a replayed outbox entry).
    #[error("no pending reply {reply_id}")]
    UnknownReply {
        /// The id.
        reply_id: String,
    },
}

/// The result of a successful command: the next case and what happened, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The case after the change, version bumped.
    pub case: Case,
    /// The events to append to the case's log and thread.
    pub events: Vec<CaseEvent>,
}

impl Case {
    /// Opens a case from a post triage called a complaint. Returns the case and its first event.
    pub fn open(id: CaseId, mention: Mention, triage: Triage, now: DateTime<Utc>) -> Transition {
        let post_ref = mention.post_ref();
        let conversation_root = mention
            .root
            .as_ref()
            .map(|root| PostRef::new(mention.network, root.clone()))
            .unwrap_or_else(|| post_ref.clone());
        let mut case = Case {
            id,
            version: 0,
            state: CaseState::New,
            owner: None,
            source: mention.source.clone(),
            network: mention.network,
            customer: mention.author.clone(),
            latest_customer_post: post_ref,
            conversation_root,
            triage,
            escalations: Vec::new(),
            replies: Vec::new(),
            pending_reply: None,
            draft: None,
            follow_ups: 0,
            chat_refs: BTreeMap::new(),
            card_versions: BTreeMap::new(),
            opened_at: now,
            updated_at: now,
            first_response_at: None,
            closed_at: None,
            next_event_seq: 0,
            reply_guard: 0,
            first_response_due: None,
            sla_warned: false,
            sla_breached: false,
            first_response_warning_at: None,
            awaiting_reply_since: None,
            next_response: None,
            similar_posts: 0,
            awaiting_approval: None,
            opening: mention,
        };
        // Derived from the case alone, so the store can leave it implicit.
        let events = vec![CaseEvent::opening_of(&case)];
        case.next_event_seq = 1;
        case.version = 1;
        Transition { case, events }
    }

    /// The reply id the next queued reply gets; stable for a given case version, so a retried
    /// submit of the same form can't produce a second id.
    pub fn next_reply_id(&self) -> String {
        format!("c{}-v{}", self.id.0, self.version)
    }

    /// The conversation's posts a public reply would answer: (parent, root).
    pub fn reply_target(&self) -> (PostRef, PostRef) {
        (
            self.latest_customer_post.clone(),
            self.conversation_root.clone(),
        )
    }

    fn record(&mut self, events: &mut Vec<CaseEvent>, kind: EventKind, now: DateTime<Utc>) {
        events.push(CaseEvent {
            case: self.id,
            seq: self.next_event_seq,
            at: now,
            kind,
        });
        self.next_event_seq += 1;
    }
}

/// Applies a command to a case. Pure: the caller stores the result (case and events) in one
/// transaction together with the side effects it implies.
pub fn apply(case: &Case, command: Command, now: DateTime<Utc>) -> Result<Transition, Refusal> {
    let mut next = case.clone();
    let mut events = Vec::new();
    match command {
        Command::Claim { by } => {
            refuse_if_closed(case)?;
            if let Some(owner) = &case.owner {
                return Err(Refusal::AlreadyClaimed {
                    owner: owner.clone(),
                });
            }
            next.owner = Some(by.clone());
            if case.state == CaseState::New {
                next.state = CaseState::Claimed;
            }
            next.record(&mut events, EventKind::Claimed { by }, now);
        }
        Command::Unclaim { by } => {
            // Like claiming, giving a closed case back is work on it: reopen it first.
            refuse_if_closed(case)?;
            let owner = case.owner.as_ref().ok_or(Refusal::NotClaimed)?;
            if owner.id != by.id {
                return Err(Refusal::NotOwner {
                    owner: owner.clone(),
                });
            }
            next.owner = None;
            if case.state == CaseState::Claimed {
                next.state = CaseState::New;
            }
            next.record(&mut events, EventKind::Unclaimed { by }, now);
        }
        Command::QueueReply {
            by,
            text,
            form_version,
        } => {
            refuse_unless_replyable(case, form_version)?;
            claim_for_replier(case, &mut next, &mut events, &by, now);
            queue_reply(case, &mut next, by, text, None, now);
        }
        Command::SubmitDraft {
            by,
            text,
            form_version,
        } => {
            refuse_unless_replyable(case, form_version)?;
            let replaces = match &case.awaiting_approval {
                // One draft per case: a second author is told whose waits (their text is not
                // lost: the chat keeps the form or the console's text area).
                Some(pending) if pending.by.id != by.id => {
                    return Err(Refusal::DraftPending {
                        author: pending.by.clone(),
                    })
                }
                Some(_) => true,
                None => false,
            };
            claim_for_replier(case, &mut next, &mut events, &by, now);
            next.awaiting_approval = Some(ApprovalDraft {
                by: by.clone(),
                text: text.clone(),
                form_version,
                at: now,
            });
            next.draft = None;
            next.record(
                &mut events,
                EventKind::DraftSubmitted { by, text, replaces },
                now,
            );
        }
        Command::ApproveDraft { by, edited } => {
            refuse_if_closed(case)?;
            let draft = case.awaiting_approval.clone().ok_or(Refusal::NoDraft)?;
            if draft.by.id == by.id {
                return Err(Refusal::OwnDraft);
            }
            if case.pending_reply.is_some() {
                return Err(Refusal::ReplyInFlight);
            }
            if draft.form_version < case.reply_guard {
                return Err(Refusal::StaleReply);
            }
            let text = edited.clone().unwrap_or_else(|| draft.text.clone());
            next.awaiting_approval = None;
            // Queued exactly as a reply is: same id scheme, so the outbox posts it once.
            queue_reply(
                case,
                &mut next,
                draft.by.clone(),
                text.clone(),
                Some(by.clone()),
                now,
            );
            next.record(
                &mut events,
                EventKind::DraftApproved {
                    by,
                    author: draft.by,
                    text,
                    edited: edited.is_some(),
                },
                now,
            );
        }
        Command::RejectDraft { by, reason } => {
            let draft = case.awaiting_approval.clone().ok_or(Refusal::NoDraft)?;
            let reason = reason.trim().to_string();
            next.awaiting_approval = None;
            // Kept where every reply form starts from, so the author can revise it.
            next.draft = Some(Draft {
                by: draft.by.clone(),
                text: draft.text,
                error: if reason.is_empty() {
                    format!("rejected by {}", by.name)
                } else {
                    format!("rejected by {}: {reason}", by.name)
                },
            });
            next.record(
                &mut events,
                EventKind::DraftRejected {
                    by,
                    author: draft.by,
                    reason,
                },
                now,
            );
        }
        Command::ReplySent {
            reply_id,
            post_id,
            url,
        } => {
            let pending = take_pending(&mut next, &reply_id)?;
            if !case.state.is_closed() {
                next.state = CaseState::Replied;
            }
            next.first_response_at.get_or_insert(now);
            answered(&mut next);
            next.replies.push(SentReply {
                reply_id,
                by: pending.by.clone(),
                text: pending.text.clone(),
                post_id: post_id.clone(),
                url: url.clone(),
                at: now,
            });
            next.record(
                &mut events,
                EventKind::ReplySent {
                    by: pending.by,
                    text: pending.text,
                    post_id,
                    url,
                },
                now,
            );
        }
        Command::ReplyFailed { reply_id, error } => {
            let pending = take_pending(&mut next, &reply_id)?;
            next.draft = Some(Draft {
                by: pending.by.clone(),
                text: pending.text.clone(),
                error: error.clone(),
            });
            next.record(
                &mut events,
                EventKind::ReplyFailed {
                    by: pending.by,
                    error,
                    text: pending.text,
                },
                now,
            );
        }
        Command::Escalate {
            by,
            target,
            label,
            note,
        } => {
            refuse_if_closed(case)?;
            if case.escalations.iter().any(|e| e.target == target) {
                return Err(Refusal::AlreadyEscalated { label });
            }
            next.escalations.push(Escalation {
                target: target.clone(),
                label: label.clone(),
                by: by.clone(),
                note: note.clone(),
                at: now,
            });
            next.record(
                &mut events,
                EventKind::Escalated {
                    by,
                    target,
                    label,
                    note,
                },
                now,
            );
        }
        Command::Resolve { by } => {
            match case.state {
                CaseState::Resolved => return Err(Refusal::AlreadyInState { state: case.state }),
                CaseState::Dismissed => return Err(Refusal::Closed { state: case.state }),
                _ => {}
            }
            next.state = CaseState::Resolved;
            next.closed_at = Some(now);
            answered(&mut next);
            next.record(&mut events, EventKind::Resolved { by }, now);
        }
        Command::Dismiss { by } => {
            match case.state {
                CaseState::Dismissed => return Err(Refusal::AlreadyInState { state: case.state }),
                CaseState::Resolved => return Err(Refusal::Closed { state: case.state }),
                _ => {}
            }
            next.state = CaseState::Dismissed;
            next.closed_at = Some(now);
            answered(&mut next);
            next.record(&mut events, EventKind::Dismissed { by }, now);
        }
        Command::Reopen { by } => {
            if !case.state.is_closed() {
                return Err(Refusal::NotClosed);
            }
            next.state = reopened_state(case);
            next.closed_at = None;
            next.record(&mut events, EventKind::Reopened { by: Some(by) }, now);
        }
        Command::FollowUp { mention } => {
            next.follow_ups += 1;
            if mention.author.id == case.customer.id {
                next.latest_customer_post = mention.post_ref();
                // Once we answered, the customer writing again waits for our next answer.
                if case.first_response_at.is_some() && case.state != CaseState::Dismissed {
                    next.awaiting_reply_since.get_or_insert(now);
                }
            }
            next.record(
                &mut events,
                EventKind::FollowUp {
                    post_id: mention.id.clone(),
                    author_handle: mention.author.handle.clone(),
                    text: mention.text.clone(),
                    url: mention.url.clone(),
                },
                now,
            );
            match case.state {
                CaseState::Replied => next.state = CaseState::CustomerReplied,
                CaseState::Resolved => {
                    next.state = CaseState::CustomerReplied;
                    next.closed_at = None;
                    next.record(&mut events, EventKind::Reopened { by: None }, now);
                }
                _ => {}
            }
        }
        Command::RepliedOutside { mention } => {
            next.first_response_at.get_or_insert(now);
            answered(&mut next);
            next.reply_guard = case.version + 1;
            if matches!(
                case.state,
                CaseState::New | CaseState::Claimed | CaseState::CustomerReplied
            ) {
                next.state = CaseState::Replied;
            }
            next.record(
                &mut events,
                EventKind::RepliedOutside {
                    author_handle: mention.author.handle.clone(),
                    text: mention.text.clone(),
                    url: mention.url.clone(),
                },
                now,
            );
        }
        Command::EscalationDelivered {
            target,
            label,
            link,
        } => {
            if !case.escalations.iter().any(|e| e.target == target) {
                return Err(Refusal::NotEscalated { label });
            }
            next.record(
                &mut events,
                EventKind::EscalationDelivered {
                    target,
                    label,
                    link,
                },
                now,
            );
        }
        Command::EscalationFailed {
            target,
            label,
            error,
        } => {
            if !case.escalations.iter().any(|e| e.target == target) {
                return Err(Refusal::NotEscalated { label });
            }
            next.record(
                &mut events,
                EventKind::EscalationFailed {
                    target,
                    label,
                    error,
                },
                now,
            );
        }
        Command::SlaWarning => {
            let due_at = running_clock(case)?;
            if case.sla_warned || case.sla_breached {
                return Err(Refusal::SlaAlreadyNoted);
            }
            next.sla_warned = true;
            let owner = case.owner.clone();
            next.record(&mut events, EventKind::SlaWarning { due_at, owner }, now);
        }
        Command::SlaBreach => {
            let due_at = running_clock(case)?;
            if case.sla_breached {
                return Err(Refusal::SlaAlreadyNoted);
            }
            next.sla_warned = true;
            next.sla_breached = true;
            next.record(&mut events, EventKind::SlaBreached { due_at }, now);
        }
        Command::NextResponseWarning { due_at } => {
            let clock = running_next_clock(case, due_at)?;
            if clock.warned || clock.breached {
                return Err(Refusal::SlaAlreadyNoted);
            }
            if let Some(clock) = next.next_response.as_mut() {
                clock.warned = true;
            }
            let owner = case.owner.clone();
            next.record(
                &mut events,
                EventKind::NextResponseWarning { due_at, owner },
                now,
            );
        }
        Command::NextResponseBreach { due_at } => {
            let clock = running_next_clock(case, due_at)?;
            if clock.breached {
                return Err(Refusal::SlaAlreadyNoted);
            }
            if let Some(clock) = next.next_response.as_mut() {
                clock.warned = true;
                clock.breached = true;
            }
            next.record(&mut events, EventKind::NextResponseBreached { due_at }, now);
        }
        Command::Collapse { members } => {
            refuse_if_closed(case)?;
            for chunk in member_chunks(&members) {
                next.similar_posts += chunk.len() as u32;
                let total = next.similar_posts + 1;
                next.record(
                    &mut events,
                    EventKind::Collapsed {
                        members: chunk.to_vec(),
                        total,
                    },
                    now,
                );
            }
        }
    }
    next.version = case.version + 1;
    next.updated_at = now;
    Ok(Transition { case: next, events })
}

/// The first-response deadline, if the clock still runs.
fn running_clock(case: &Case) -> Result<DateTime<Utc>, Refusal> {
    match case.first_response_due {
        Some(due_at) if case.first_response_at.is_none() && !case.state.is_closed() => Ok(due_at),
        _ => Err(Refusal::SlaStopped),
    }
}

/// The next-response clock with deadline `due_at`, if it still runs.
fn running_next_clock(case: &Case, due_at: DateTime<Utc>) -> Result<ResponseClock, Refusal> {
    match case.next_response {
        Some(clock) if clock.due_at == due_at && !case.state.is_closed() => Ok(clock),
        _ => Err(Refusal::SlaStopped),
    }
}

/// A public answer (or closing the case) stops the next-response clock.
fn answered(case: &mut Case) {
    case.awaiting_reply_since = None;
    case.next_response = None;
}

/// A reply (or a draft) from a form opened at `form_version` may be recorded: the case is
/// open, no reply is being posted, and nobody answered since the form was opened.
fn refuse_unless_replyable(case: &Case, form_version: u64) -> Result<(), Refusal> {
    refuse_if_closed(case)?;
    if case.pending_reply.is_some() {
        return Err(Refusal::ReplyInFlight);
    }
    if form_version < case.reply_guard {
        return Err(Refusal::StaleReply);
    }
    Ok(())
}

/// Replying is owning: the card must show who answered the customer.
fn claim_for_replier(
    case: &Case,
    next: &mut Case,
    events: &mut Vec<CaseEvent>,
    by: &Agent,
    now: DateTime<Utc>,
) {
    if case.owner.is_none() {
        next.owner = Some(by.clone());
        if case.state == CaseState::New {
            next.state = CaseState::Claimed;
        }
        next.record(events, EventKind::Claimed { by: by.clone() }, now);
    }
}

/// Records the public reply the outbox will post, with the id of this case version.
fn queue_reply(
    case: &Case,
    next: &mut Case,
    by: Agent,
    text: String,
    approved_by: Option<Agent>,
    now: DateTime<Utc>,
) {
    let (in_reply_to, root) = case.reply_target();
    next.pending_reply = Some(PendingReply {
        reply_id: case.next_reply_id(),
        by,
        text,
        in_reply_to,
        root,
        queued_at: now,
        approved_by,
    });
    next.draft = None;
    next.reply_guard = case.version + 1;
}

fn refuse_if_closed(case: &Case) -> Result<(), Refusal> {
    if case.state.is_closed() {
        return Err(Refusal::Closed { state: case.state });
    }
    Ok(())
}

fn take_pending(case: &mut Case, reply_id: &str) -> Result<PendingReply, Refusal> {
    match case.pending_reply.take() {
        Some(pending) if pending.reply_id == reply_id => Ok(pending),
        other => {
            case.pending_reply = other;
            Err(Refusal::UnknownReply {
                reply_id: reply_id.to_string(),
            })
        }
    }
}

fn reopened_state(case: &Case) -> CaseState {
    match (&case.owner, case.replies.is_empty()) {
        (None, _) => CaseState::New,
        (Some(_), true) => CaseState::Claimed,
        (Some(_), false) => CaseState::CustomerReplied,
    }
}
