//! The audit log's records: who posted what where in the brand's name, and who handed which
//! case to whom. Pure: [`records`] derives them from a transition; the store appends them in
//! the transaction that records the transition, so the log can't miss an event or hold one
//! that didn't happen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::case::{Agent, Case, CaseId};
use super::event::{CaseEvent, EventKind};
use super::mention::Network;
use super::text::mask_pii;

/// What an audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A public reply was posted on the network.
    ReplySent,
    /// A public reply was refused by the network or kept failing; nothing was posted.
    ReplyFailed,
    /// Someone escalated a case to a target.
    Escalated,
    /// A target's webhook took the hand-off.
    EscalationDelivered,
    /// A target's webhook refused the hand-off or kept failing.
    EscalationFailed,
}

impl AuditAction {
    /// The snake_case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ReplySent => "reply_sent",
            AuditAction::ReplyFailed => "reply_failed",
            AuditAction::Escalated => "escalated",
            AuditAction::EscalationDelivered => "escalation_delivered",
            AuditAction::EscalationFailed => "escalation_failed",
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub action: AuditAction,
    /// The case.
    pub case: CaseId,
    /// Who did it (for a hand-off's outcome: who escalated).
    pub by: Option<Agent>,
    /// The conversation's network.
    pub network: Network,
    /// The configured source the case came from (and a reply went through).
    pub source: String,
    /// The customer's handle.
    pub customer: String,
    /// The network id of the customer's post that was answered (or that opened the case).
    pub customer_post: String,
    /// The network id of the brand's post, for a sent reply.
    #[serde(default)]
    pub post_id: Option<String>,
    /// A link: to the brand's post for a reply, to the ticket for a delivered hand-off.
    #[serde(default)]
    pub url: Option<String>,
    /// The reply's text as posted (public anyway), or the escalation note with personal data
    /// masked.
    #[serde(default)]
    pub text: Option<String>,
    /// The escalation target's label.
    #[serde(default)]
    pub target: Option<String>,
    /// What went wrong, for a failure.
    #[serde(default)]
    pub error: Option<String>,
    /// The approver who let a reply out (approval mode); `by` is its author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<Agent>,
}

/// The audit records a transition from `before` to `after` implies, in event order.
pub fn records(before: &Case, after: &Case, events: &[CaseEvent]) -> Vec<AuditRecord> {
    events
        .iter()
        .filter_map(|event| record(before, after, event))
        .collect()
}

fn record(before: &Case, after: &Case, event: &CaseEvent) -> Option<AuditRecord> {
    let base = |action, by: Option<&Agent>, customer_post: String| AuditRecord {
        at: event.at,
        action,
        case: after.id,
        by: by.cloned(),
        network: after.network,
        source: after.source.clone(),
        customer: after.customer.handle.clone(),
        customer_post,
        post_id: None,
        url: None,
        text: None,
        target: None,
        error: None,
        approved_by: None,
    };
    // A reply answered the post recorded when it was queued, not a later follow-up.
    let answered = before
        .pending_reply
        .as_ref()
        .map(|pending| pending.in_reply_to.id.clone())
        .unwrap_or_else(|| before.latest_customer_post.id.clone());
    let approver = before
        .pending_reply
        .as_ref()
        .and_then(|pending| pending.approved_by.clone());
    let escalator = |target: &str| {
        after
            .escalations
            .iter()
            .find(|escalation| escalation.target == target)
            .map(|escalation| &escalation.by)
    };
    let opening = after.opening.id.clone();
    Some(match &event.kind {
        EventKind::ReplySent {
            by,
            text,
            post_id,
            url,
        } => AuditRecord {
            post_id: Some(post_id.clone()),
            url: url.clone(),
            text: Some(text.clone()),
            approved_by: approver.clone(),
            ..base(AuditAction::ReplySent, Some(by), answered)
        },
        EventKind::ReplyFailed { by, error, text } => AuditRecord {
            text: Some(text.clone()),
            approved_by: approver.clone(),
            error: Some(error.clone()),
            ..base(AuditAction::ReplyFailed, Some(by), answered)
        },
        EventKind::Escalated {
            by, label, note, ..
        } => AuditRecord {
            text: (!note.is_empty()).then(|| mask_pii(note)),
            target: Some(label.clone()),
            ..base(AuditAction::Escalated, Some(by), opening)
        },
        EventKind::EscalationDelivered {
            target,
            label,
            link,
        } => AuditRecord {
            url: link.clone(),
            target: Some(label.clone()),
            ..base(AuditAction::EscalationDelivered, escalator(target), opening)
        },
        EventKind::EscalationFailed {
            target,
            label,
            error,
        } => AuditRecord {
            target: Some(label.clone()),
            error: Some(error.clone()),
            ..base(AuditAction::EscalationFailed, escalator(target), opening)
        },
        _ => return None,
    })
}
