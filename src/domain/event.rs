//! Case events: the append-only history of a case, and the thread note each one becomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::case::{Agent, CaseId, Label};
use super::text::{mask_pii, truncate_chars};

/// The longest quote of a post or reply in a thread note, in characters.
const NOTE_QUOTE_MAX: usize = 600;

/// One thing that happened to a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEvent {
    /// The case.
    pub case: CaseId,
    /// Position in the case's log, from 0.
    pub seq: u32,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
}

/// What happened (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A complaint opened the case.
    Opened {
        /// The customer's handle.
        author_handle: String,
        /// A link to the post.
        url: String,
        /// Triage's label.
        label: Label,
        /// Triage's score.
        score: f32,
    },
    /// A later post joined the case.
    FollowUp {
        /// The post's id.
        post_id: String,
        /// Its author's handle.
        author_handle: String,
        /// Its text.
        text: String,
        /// A link to it.
        url: String,
    },
    /// Someone took the case.
    Claimed {
        /// Who.
        by: Agent,
    },
    /// The owner gave it back.
    Unclaimed {
        /// Who.
        by: Agent,
    },
    /// A public reply was posted.
    ReplySent {
        /// Who wrote it.
        by: Agent,
        /// What was posted.
        text: String,
        /// The network's id of our post.
        post_id: String,
        /// A link to it.
        url: Option<String>,
    },
    /// A public reply failed; the draft is kept on the case.
    ReplyFailed {
        /// Who wrote it.
        by: Agent,
        /// What the network said.
        error: String,
        /// The text that was not posted.
        text: String,
    },
    /// The case was handed to a target.
    Escalated {
        /// Who.
        by: Agent,
        /// The target's id.
        target: String,
        /// The target's label.
        label: String,
        /// The internal note.
        note: String,
    },
    /// Closed as done.
    Resolved {
        /// Who.
        by: Agent,
    },
    /// Opened again, by a person or by a customer's follow-up (`by` is then empty).
    Reopened {
        /// Who, if a person.
        by: Option<Agent>,
    },
    /// Closed as not a complaint.
    Dismissed {
        /// Who.
        by: Agent,
    },
    /// The brand's account answered in the conversation without the bot.
    RepliedOutside {
        /// The brand account's handle.
        author_handle: String,
        /// What it posted.
        text: String,
        /// A link to it.
        url: String,
    },
    /// The first-response deadline is near.
    SlaWarning {
        /// When it is due.
        due_at: DateTime<Utc>,
    },
    /// The first-response deadline passed.
    SlaBreached {
        /// When it was due.
        due_at: DateTime<Utc>,
    },
}

/// A short message under the card: what happened, who did it, when, and a link if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadNote {
    /// The message, PII masked.
    pub text: String,
    /// Who did it, if a person.
    pub by: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// A link (the customer's post, our reply).
    pub link: Option<String>,
}

impl CaseEvent {
    /// The thread note for this event. Quotes are PII masked: threads are read by the whole team.
    pub fn note(&self) -> ThreadNote {
        let (text, by, link) = match &self.kind {
            EventKind::Opened {
                author_handle,
                url,
                label,
                score,
            } => (
                format!(
                    "Case {} opened from @{author_handle}'s post ({label}, score {score:.2})",
                    self.case
                ),
                None,
                Some(url.clone()),
            ),
            EventKind::FollowUp {
                author_handle,
                text,
                url,
                ..
            } => (
                format!("@{author_handle} wrote: “{}”", quote(text)),
                None,
                Some(url.clone()),
            ),
            EventKind::Claimed { by } => (format!("Claimed by {}", by.name), Some(by), None),
            EventKind::Unclaimed { by } => (format!("Unclaimed by {}", by.name), Some(by), None),
            EventKind::ReplySent { by, text, url, .. } => (
                format!("{} replied publicly: “{}”", by.name, quote(text)),
                Some(by),
                url.clone(),
            ),
            EventKind::ReplyFailed { by, error, .. } => (
                format!(
                    "Public reply by {} failed: {}. The draft is kept: press Reply publicly to retry",
                    by.name,
                    truncate_chars(error, NOTE_QUOTE_MAX)
                ),
                Some(by),
                None,
            ),
            EventKind::Escalated {
                by, label, note, ..
            } => {
                let note = if note.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", quote(note))
                };
                (
                    format!("Escalated to {label} by {}{note}", by.name),
                    Some(by),
                    None,
                )
            }
            EventKind::Resolved { by } => (format!("Resolved by {}", by.name), Some(by), None),
            EventKind::Reopened { by: Some(by) } => {
                (format!("Reopened by {}", by.name), Some(by), None)
            }
            EventKind::Reopened { by: None } => (
                "Reopened: the customer wrote again".to_string(),
                None,
                None,
            ),
            EventKind::Dismissed { by } => (
                format!("Marked as not a complaint by {}", by.name),
                Some(by),
                None,
            ),
            EventKind::RepliedOutside {
                author_handle,
                text,
                url,
            } => (
                format!(
                    "@{author_handle} answered outside mentiondesk: “{}”",
                    quote(text)
                ),
                None,
                Some(url.clone()),
            ),
            EventKind::SlaWarning { due_at } => (
                format!(
                    "First response due at {} UTC",
                    due_at.format("%Y-%m-%d %H:%M")
                ),
                None,
                None,
            ),
            EventKind::SlaBreached { due_at } => (
                format!(
                    "First response overdue since {} UTC",
                    due_at.format("%Y-%m-%d %H:%M")
                ),
                None,
                None,
            ),
        };
        ThreadNote {
            text,
            by: by.map(|agent| agent.name.clone()),
            at: self.at,
            link,
        }
    }
}

fn quote(text: &str) -> String {
    truncate_chars(&mask_pii(text.trim()), NOTE_QUOTE_MAX)
}
