//! Actions people take on cards, and the one codec for button and modal payloads.
//!
//! A payload is `verb:case:version` (e.g. `claim:42:7`): short enough for Discord's 100-char
//! `custom_id`, and self-contained, so a click can be handled after a restart with no memory
//! of the card that carried it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::case::CaseId;

/// The buttons a card can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Take the case.
    Claim,
    /// Give it back.
    Unclaim,
    /// Open the reply form.
    Reply,
    /// Open the escalation form.
    Escalate,
    /// Close as done.
    Resolve,
    /// Close as not a complaint.
    Dismiss,
    /// Open again.
    Reopen,
    /// Move a kudos (praise) to the complaint queue; the payload's case is the kudos id.
    MarkComplaint,
    /// Approval mode: let the pending draft out as written.
    Approve,
    /// Approval mode: open the reply form on the pending draft; its submit approves the edit.
    Edit,
    /// Approval mode: send the pending draft back to its author.
    Reject,
    /// Move a post triage did not card (the "Skipped" review) to the complaint queue; the
    /// payload's case is the skipped entry's id.
    MarkSkipped,
}

impl ActionKind {
    /// Every kind, in the order cards show them.
    pub const ALL: [ActionKind; 12] = [
        ActionKind::Claim,
        ActionKind::Unclaim,
        ActionKind::Reply,
        ActionKind::Escalate,
        ActionKind::Resolve,
        ActionKind::Dismiss,
        ActionKind::Reopen,
        ActionKind::MarkComplaint,
        ActionKind::Approve,
        ActionKind::Edit,
        ActionKind::Reject,
        ActionKind::MarkSkipped,
    ];

    /// The verb used in payloads.
    pub fn verb(self) -> &'static str {
        match self {
            ActionKind::Claim => "claim",
            ActionKind::Unclaim => "unclaim",
            ActionKind::Reply => "reply",
            ActionKind::Escalate => "escalate",
            ActionKind::Resolve => "resolve",
            ActionKind::Dismiss => "dismiss",
            ActionKind::Reopen => "reopen",
            ActionKind::MarkComplaint => "complaint",
            ActionKind::Approve => "approve",
            ActionKind::Edit => "edit",
            ActionKind::Reject => "reject",
            ActionKind::MarkSkipped => "skipped",
        }
    }

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::Claim => "Claim",
            ActionKind::Unclaim => "Unclaim",
            ActionKind::Reply => "Reply publicly",
            ActionKind::Escalate => "Escalate",
            ActionKind::Resolve => "Resolve",
            ActionKind::Dismiss => "Not a complaint",
            ActionKind::Reopen => "Reopen",
            ActionKind::MarkComplaint | ActionKind::MarkSkipped => "Mark as complaint",
            ActionKind::Approve => "Approve",
            ActionKind::Edit => "Edit draft",
            ActionKind::Reject => "Reject draft",
        }
    }
}

/// A decoded button or modal payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    /// The button.
    pub kind: ActionKind,
    /// The case.
    pub case: CaseId,
    /// The case version the card showed.
    pub version: u64,
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid action payload {payload:?}: {reason}")]
pub struct PayloadError {
    /// The payload as received (cut to 120 characters).
    pub payload: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.kind.verb(), self.case.0, self.version)
    }
}

impl FromStr for Payload {
    type Err = PayloadError;

    fn from_str(payload: &str) -> Result<Self, Self::Err> {
        let error = |reason| PayloadError {
            payload: payload.chars().take(120).collect(),
            reason,
        };
        let mut parts = payload.split(':');
        let (Some(verb), Some(case), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(error("expected verb:case:version"));
        };
        let kind = ActionKind::ALL
            .into_iter()
            .find(|kind| kind.verb() == verb)
            .ok_or_else(|| error("unknown action"))?;
        let case = case.parse().map_err(|_| error("case is not a number"))?;
        let version = version
            .parse()
            .map_err(|_| error("version is not a number"))?;
        Ok(Payload {
            kind,
            case: CaseId(case),
            version,
        })
    }
}

/// What a person asks the actions engine to do, after any form was filled in.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatAction {
    /// Take the case.
    Claim,
    /// Give it back.
    Unclaim,
    /// Post a public reply.
    Reply {
        /// The text as typed (the agent's signature is added by the engine).
        text: String,
        /// The agent saw the personal-data warning and wants to post anyway.
        confirm_pii: bool,
    },
    /// Hand the case to a target.
    Escalate {
        /// The target's id from config.
        target: String,
        /// An internal note.
        note: String,
    },
    /// Close as done.
    Resolve,
    /// Close as not a complaint.
    Dismiss,
    /// Open again.
    Reopen,
    /// Move the kudos whose id is the request's case to the complaint queue.
    MarkComplaint,
    /// Move the skipped post whose entry id is the request's case to the complaint queue.
    MarkSkipped,
    /// Approval mode: let the pending draft out as written.
    Approve,
    /// Approval mode: let the pending draft out with the approver's text.
    Edit {
        /// The approver's version, as typed.
        text: String,
        /// The approver saw the hold warning and wants to post anyway.
        confirm_pii: bool,
    },
    /// Approval mode: send the pending draft back to its author.
    Reject {
        /// Why (may be empty).
        reason: String,
    },
}

impl ChatAction {
    /// The button this action comes from.
    pub fn kind(&self) -> ActionKind {
        match self {
            ChatAction::Claim => ActionKind::Claim,
            ChatAction::Unclaim => ActionKind::Unclaim,
            ChatAction::Reply { .. } => ActionKind::Reply,
            ChatAction::Escalate { .. } => ActionKind::Escalate,
            ChatAction::Resolve => ActionKind::Resolve,
            ChatAction::Dismiss => ActionKind::Dismiss,
            ChatAction::Reopen => ActionKind::Reopen,
            ChatAction::MarkComplaint => ActionKind::MarkComplaint,
            ChatAction::MarkSkipped => ActionKind::MarkSkipped,
            ChatAction::Approve => ActionKind::Approve,
            ChatAction::Edit { .. } => ActionKind::Edit,
            ChatAction::Reject { .. } => ActionKind::Reject,
        }
    }
}

/// A request for the actions engine: which case, at which version, what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRequest {
    /// The case.
    pub case: CaseId,
    /// The version the person saw.
    pub version: u64,
    /// What to do.
    pub action: ChatAction,
}

impl ActionRequest {
    /// Builds a request for a button that needs no form (claim, resolve, ...). Returns `None`
    /// for reply and escalate, which need their form's fields.
    pub fn from_button(payload: Payload) -> Option<ActionRequest> {
        let action = match payload.kind {
            ActionKind::Claim => ChatAction::Claim,
            ActionKind::Unclaim => ChatAction::Unclaim,
            ActionKind::Resolve => ChatAction::Resolve,
            ActionKind::Dismiss => ChatAction::Dismiss,
            ActionKind::Reopen => ChatAction::Reopen,
            ActionKind::MarkComplaint => ChatAction::MarkComplaint,
            ActionKind::MarkSkipped => ChatAction::MarkSkipped,
            ActionKind::Approve => ChatAction::Approve,
            ActionKind::Reject => ChatAction::Reject {
                reason: String::new(),
            },
            ActionKind::Reply | ActionKind::Escalate | ActionKind::Edit => return None,
        };
        Some(ActionRequest {
            case: payload.case,
            version: payload.version,
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for kind in ActionKind::ALL {
            let payload = Payload {
                kind,
                case: CaseId(42),
                version: 7,
            };
            let encoded = payload.to_string();
            assert!(encoded.len() <= 100, "fits a Discord custom_id");
            assert_eq!(encoded.parse::<Payload>(), Ok(payload));
        }
    }

    #[test]
    fn bad_payloads_are_errors() {
        for bad in [
            "",
            "claim",
            "claim:1",
            "claim:x:1",
            "claim:1:x",
            "fly:1:1",
            "claim:1:1:1",
        ] {
            assert!(bad.parse::<Payload>().is_err(), "{bad:?}");
        }
    }
}
