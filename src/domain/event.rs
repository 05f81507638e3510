//! Case events: the append-only history of a case, and the thread note each one becomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::case::{Agent, Case, CaseId, Label};
use super::text::{mask_pii, truncate_chars};

/// The longest quote of a post or reply in a thread note, in characters.
const NOTE_QUOTE_MAX: usize = 600;

/// The most members one incident note lists.
pub const MEMBERS_PER_NOTE: usize = 20;

/// The longest member list in one incident note, in characters: one chat message in every
/// adapter (Discord's 2000 is the smallest), with room for the heading.
const MEMBERS_NOTE_MAX: usize = 1700;

/// A post collapsed into an incident (storm collapse), as its thread lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StormMember {
    /// The post's id.
    pub post_id: String,
    /// Its author's handle.
    pub author_handle: String,
    /// A link to it.
    pub url: String,
}

impl StormMember {
    fn line(&self) -> String {
        format!(
            "• @{} {}",
            truncate_chars(&self.author_handle, 60),
            truncate_chars(&self.url, 300)
        )
    }
}

/// Splits an incident's new members into runs that each fit one thread note.
pub fn member_chunks(members: &[StormMember]) -> Vec<&[StormMember]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut chars = 0;
    for (index, member) in members.iter().enumerate() {
        let line = member.line().chars().count() + 1;
        if index > start && (index - start >= MEMBERS_PER_NOTE || chars + line > MEMBERS_NOTE_MAX) {
            chunks.push(&members[start..index]);
            start = index;
            chars = 0;
        }
        chars += line;
    }
    if start < members.len() {
        chunks.push(&members[start..]);
    }
    chunks
}

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
    /// Approval mode: a reply was kept as a draft for an approver.
    DraftSubmitted {
        /// Who wrote it.
        by: Agent,
        /// The draft.
        text: String,
        /// It replaced the same author's earlier draft.
        #[serde(default)]
        replaces: bool,
    },
    /// Approval mode: an approver let the draft out (as written or edited); the public reply
    /// is queued in the same transaction.
    DraftApproved {
        /// The approver.
        by: Agent,
        /// Who wrote the draft.
        author: Agent,
        /// The text queued.
        text: String,
        /// The approver changed the text.
        #[serde(default)]
        edited: bool,
    },
    /// Approval mode: an approver sent the draft back; it is kept as the case's draft.
    DraftRejected {
        /// The approver.
        by: Agent,
        /// Who wrote the draft.
        author: Agent,
        /// Why (may be empty).
        reason: String,
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
    /// The target's webhook took the hand-off.
    EscalationDelivered {
        /// The target's id.
        target: String,
        /// The target's label.
        label: String,
        /// The ticket link it returned.
        link: Option<String>,
    },
    /// The target's webhook refused or kept failing.
    EscalationFailed {
        /// The target's id.
        target: String,
        /// The target's label.
        label: String,
        /// What went wrong.
        error: String,
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
        /// The owner then, mentioned in the note (the channel is, when nobody owns the case).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<Agent>,
    },
    /// The first-response deadline passed.
    SlaBreached {
        /// When it was due.
        due_at: DateTime<Utc>,
    },
    /// The next-response deadline (after a follow-up by the customer) is near.
    NextResponseWarning {
        /// When it is due.
        due_at: DateTime<Utc>,
        /// The owner then, mentioned in the note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<Agent>,
    },
    /// The next-response deadline passed.
    NextResponseBreached {
        /// When it was due.
        due_at: DateTime<Utc>,
    },
    /// Near-identical posts joined the case as members of an incident (storm collapse).
    Collapsed {
        /// The posts, in arrival order (one note's worth).
        members: Vec<StormMember>,
        /// Posts in the incident after these joined, the opening post included.
        total: u32,
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
    /// Someone to notify with the note (an SLA warning): each chat renders its own mention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<NoteMention>,
}

/// Whom a note notifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NoteMention {
    /// An agent, by chat-qualified id (`slack:U123`, `discord:123`, `console:ana`); a chat
    /// mentions ids of its own and shows the name otherwise.
    Agent {
        /// The chat-qualified id.
        id: String,
        /// The name.
        name: String,
    },
    /// Whoever is in the channel (Slack `<!here>`, Discord `@here`).
    Channel,
}

impl NoteMention {
    /// The mention for a case's owner, or the channel when nobody owns it.
    pub fn owner_or_channel(owner: Option<&Agent>) -> NoteMention {
        match owner {
            Some(agent) => NoteMention::Agent {
                id: agent.id.clone(),
                name: agent.name.clone(),
            },
            None => NoteMention::Channel,
        }
    }

    /// The agent's id within `chat` (`U123` for `slack:U123` in `slack`), if it is one of it.
    pub fn id_in(&self, chat: &str) -> Option<&str> {
        match self {
            NoteMention::Agent { id, .. } => id
                .strip_prefix(chat)
                .and_then(|rest| rest.strip_prefix(':'))
                .filter(|rest| !rest.is_empty()),
            NoteMention::Channel => None,
        }
    }
}

/// "2026-03-02 10:05 UTC", or in `zone` with its abbreviation: "2026-03-02 11:05 CET".
pub fn due_text(due: DateTime<Utc>, zone: Option<&jiff::tz::TimeZone>) -> String {
    match zone {
        Some(zone) => super::hours::to_timestamp(due)
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        None => due.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

impl CaseEvent {
    /// A case's first event (seq 0, at its opening time), derived from what the case keeps
    /// and never changes: its opening post and triage's verdict. [`Case::open`] records this
    /// very event, and the store (schema 5) does not write it, deriving it on read instead.
    pub fn opening_of(case: &Case) -> CaseEvent {
        CaseEvent {
            case: case.id,
            seq: 0,
            at: case.opened_at,
            kind: EventKind::Opened {
                author_handle: case.opening.author.handle.clone(),
                url: case.opening.url.clone(),
                label: case.triage.label,
                score: case.triage.score,
            },
        }
    }

    /// The thread note for this event. Quotes are PII masked: threads are read by the whole team.
    pub fn note(&self) -> ThreadNote {
        self.note_in(None)
    }

    /// The thread note with its due times in `zone` (the office's, `[sla.business_hours]`,
    /// with its abbreviation) instead of UTC. The zone is a value handed in: this stays pure.
    pub fn note_in(&self, zone: Option<&jiff::tz::TimeZone>) -> ThreadNote {
        let mention = match &self.kind {
            EventKind::SlaWarning { owner, .. } | EventKind::NextResponseWarning { owner, .. } => {
                Some(NoteMention::owner_or_channel(owner.as_ref()))
            }
            _ => None,
        };
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
            EventKind::DraftSubmitted { by, text, replaces } => (
                format!(
                    "Draft by {} awaiting approval{}: “{}”",
                    by.name,
                    if *replaces { " (revised)" } else { "" },
                    quote(text)
                ),
                Some(by),
                None,
            ),
            EventKind::DraftApproved {
                by,
                author,
                text,
                edited,
            } => (
                if *edited {
                    format!(
                        "{} edited and approved {}'s draft: “{}”",
                        by.name,
                        author.name,
                        quote(text)
                    )
                } else {
                    format!("{} approved {}'s draft", by.name, author.name)
                },
                Some(by),
                None,
            ),
            EventKind::DraftRejected { by, author, reason } => (
                if reason.is_empty() {
                    format!(
                        "{} rejected {}'s draft. It is kept: press Reply publicly to revise it",
                        by.name, author.name
                    )
                } else {
                    format!(
                        "{} rejected {}'s draft: {}. It is kept: press Reply publicly to revise it",
                        by.name,
                        author.name,
                        quote(reason)
                    )
                },
                Some(by),
                None,
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
            EventKind::EscalationDelivered { label, link, .. } => (
                match link {
                    Some(_) => format!("{label} received the hand-off: ticket opened"),
                    None => format!("{label} received the hand-off"),
                },
                None,
                link.clone(),
            ),
            EventKind::EscalationFailed { label, error, .. } => (
                format!(
                    "The hand-off to {label} failed: {}",
                    truncate_chars(error, NOTE_QUOTE_MAX)
                ),
                None,
                None,
            ),
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
            EventKind::SlaWarning { due_at, .. } => (
                format!(
                    "First response due at {}",
                    due_text(*due_at, zone)
                ),
                None,
                None,
            ),
            EventKind::SlaBreached { due_at } => (
                format!(
                    "First response overdue since {}",
                    due_text(*due_at, zone)
                ),
                None,
                None,
            ),
            EventKind::NextResponseWarning { due_at, .. } => (
                format!(
                    "The customer wrote again: next response due at {}",
                    due_text(*due_at, zone)
                ),
                None,
                None,
            ),
            EventKind::NextResponseBreached { due_at } => (
                format!(
                    "Next response overdue since {}",
                    due_text(*due_at, zone)
                ),
                None,
                None,
            ),
            EventKind::Collapsed { members, total } => {
                let noun = if members.len() == 1 { "post" } else { "posts" };
                let mut text = format!(
                    "Incident: {} similar {noun} joined ({total} in all)",
                    members.len()
                );
                for member in members {
                    text.push('\n');
                    text.push_str(&member.line());
                }
                (text, None, None)
            }
        };
        ThreadNote {
            text,
            by: by.map(|agent| agent.name.clone()),
            at: self.at,
            link,
            mention,
        }
    }
}

fn quote(text: &str) -> String {
    truncate_chars(&mask_pii(text.trim()), NOTE_QUOTE_MAX)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap()
    }

    fn ana() -> Agent {
        Agent::new("slack:U-ana", "Ana")
    }

    /// The note of `kind` on case #7: (text, by, link).
    fn check(kind: EventKind, text: &str, by: Option<&str>, link: Option<&str>) {
        let event = CaseEvent {
            case: CaseId(7),
            seq: 3,
            at: at(),
            kind: kind.clone(),
        };
        let mut note = event.note();
        note.mention = None;
        let expected = ThreadNote {
            text: text.to_string(),
            by: by.map(str::to_string),
            at: at(),
            link: link.map(str::to_string),
            mention: None,
        };
        assert_eq!(note, expected, "{kind:?}");
    }

    #[test]
    fn every_event_has_a_thread_note() {
        let due = Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap();
        let url = "https://bsky.app/post/p2";
        check(
            EventKind::Opened {
                author_handle: "jo.bsky.social".to_string(),
                url: "https://bsky.app/post/p1".to_string(),
                label: Label::Complaint,
                score: 0.916,
            },
            "Case #7 opened from @jo.bsky.social's post (complaint, score 0.92)",
            None,
            Some("https://bsky.app/post/p1"),
        );
        check(
            EventKind::FollowUp {
                post_id: "p2".to_string(),
                author_handle: "jo.bsky.social".to_string(),
                text: "  still nothing, mail me at jo.doe@example.com \n".to_string(),
                url: url.to_string(),
            },
            "@jo.bsky.social wrote: “still nothing, mail me at [e-mail address hidden]”",
            None,
            Some(url),
        );
        check(
            EventKind::Claimed { by: ana() },
            "Claimed by Ana",
            Some("Ana"),
            None,
        );
        check(
            EventKind::Unclaimed { by: ana() },
            "Unclaimed by Ana",
            Some("Ana"),
            None,
        );
        check(
            EventKind::ReplySent {
                by: ana(),
                text: "@jo.bsky.social call us on +44 20 7946 0958".to_string(),
                post_id: "our-1".to_string(),
                url: Some("https://bsky.app/post/our-1".to_string()),
            },
            "Ana replied publicly: “@jo.bsky.social call us on [phone number hidden]”",
            Some("Ana"),
            Some("https://bsky.app/post/our-1"),
        );
        check(
            EventKind::ReplySent {
                by: ana(),
                text: "sorry".to_string(),
                post_id: "our-1".to_string(),
                url: None,
            },
            "Ana replied publicly: “sorry”",
            Some("Ana"),
            None,
        );
        check(
            EventKind::ReplyFailed {
                by: ana(),
                error: "400 text too long".to_string(),
                text: "the draft".to_string(),
            },
            "Public reply by Ana failed: 400 text too long. The draft is kept: press Reply publicly to retry",
            Some("Ana"),
            None,
        );
        check(
            EventKind::Escalated {
                by: ana(),
                target: "billing".to_string(),
                label: "Billing".to_string(),
                note: "refund to card 4111 1111 1111 1111".to_string(),
            },
            "Escalated to Billing by Ana: refund to card [card number hidden]",
            Some("Ana"),
            None,
        );
        check(
            EventKind::Escalated {
                by: ana(),
                target: "billing".to_string(),
                label: "Billing".to_string(),
                note: "  ".to_string(),
            },
            "Escalated to Billing by Ana",
            Some("Ana"),
            None,
        );
        check(
            EventKind::EscalationDelivered {
                target: "tickets".to_string(),
                label: "Ticket desk".to_string(),
                link: Some("https://tickets.example/T-1".to_string()),
            },
            "Ticket desk received the hand-off: ticket opened",
            None,
            Some("https://tickets.example/T-1"),
        );
        check(
            EventKind::EscalationDelivered {
                target: "tickets".to_string(),
                label: "Ticket desk".to_string(),
                link: None,
            },
            "Ticket desk received the hand-off",
            None,
            None,
        );
        check(
            EventKind::EscalationFailed {
                target: "tickets".to_string(),
                label: "Ticket desk".to_string(),
                error: "HTTP 400: unknown queue".to_string(),
            },
            "The hand-off to Ticket desk failed: HTTP 400: unknown queue",
            None,
            None,
        );
        check(
            EventKind::Resolved { by: ana() },
            "Resolved by Ana",
            Some("Ana"),
            None,
        );
        check(
            EventKind::Reopened { by: Some(ana()) },
            "Reopened by Ana",
            Some("Ana"),
            None,
        );
        check(
            EventKind::Reopened { by: None },
            "Reopened: the customer wrote again",
            None,
            None,
        );
        check(
            EventKind::Dismissed { by: ana() },
            "Marked as not a complaint by Ana",
            Some("Ana"),
            None,
        );
        check(
            EventKind::RepliedOutside {
                author_handle: "acme.bsky.social".to_string(),
                text: "DM us at help@acme.example".to_string(),
                url: url.to_string(),
            },
            "@acme.bsky.social answered outside mentiondesk: “DM us at [e-mail address hidden]”",
            None,
            Some(url),
        );
        check(
            EventKind::SlaWarning {
                due_at: due,
                owner: None,
            },
            "First response due at 2026-03-02 10:05 UTC",
            None,
            None,
        );
        check(
            EventKind::SlaBreached { due_at: due },
            "First response overdue since 2026-03-02 10:05 UTC",
            None,
            None,
        );
        check(
            EventKind::NextResponseWarning {
                due_at: due,
                owner: None,
            },
            "The customer wrote again: next response due at 2026-03-02 10:05 UTC",
            None,
            None,
        );
        check(
            EventKind::NextResponseBreached { due_at: due },
            "Next response overdue since 2026-03-02 10:05 UTC",
            None,
            None,
        );
    }

    #[test]
    fn sla_notes_show_due_times_in_the_office_zone_with_its_abbreviation() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let winter = Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 10, 5, 0).unwrap();
        let text = |kind: EventKind| {
            let event = CaseEvent {
                case: CaseId(7),
                seq: 3,
                at: at(),
                kind,
            };
            event.note_in(Some(&berlin)).text
        };
        assert_eq!(
            text(EventKind::SlaWarning {
                due_at: winter,
                owner: None
            }),
            "First response due at 2026-03-02 11:05 CET"
        );
        assert_eq!(
            text(EventKind::SlaBreached { due_at: summer }),
            "First response overdue since 2026-07-01 12:05 CEST"
        );
        assert_eq!(
            text(EventKind::NextResponseWarning {
                due_at: winter,
                owner: None
            }),
            "The customer wrote again: next response due at 2026-03-02 11:05 CET"
        );
        assert_eq!(
            text(EventKind::NextResponseBreached { due_at: winter }),
            "Next response overdue since 2026-03-02 11:05 CET"
        );
        // Other notes do not depend on the zone.
        assert_eq!(
            text(EventKind::Dismissed { by: ana() }),
            "Marked as not a complaint by Ana"
        );
    }

    fn member(n: usize) -> StormMember {
        StormMember {
            post_id: format!("p{n}"),
            author_handle: format!("user{n}.bsky.social"),
            url: format!("https://bsky.app/profile/user{n}.bsky.social/post/p{n}"),
        }
    }

    #[test]
    fn incident_notes_list_members_and_fit_one_message() {
        check(
            EventKind::Collapsed {
                members: vec![member(1), member(2)],
                total: 3,
            },
            "Incident: 2 similar posts joined (3 in all)\n• @user1.bsky.social https://bsky.app/profile/user1.bsky.social/post/p1\n• @user2.bsky.social https://bsky.app/profile/user2.bsky.social/post/p2",
            None,
            None,
        );
        let members: Vec<StormMember> = (0..199).map(member).collect();
        let chunks = member_chunks(&members);
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 199);
        assert!(chunks.len() <= 199 / 10, "{} notes", chunks.len());
        for chunk in &chunks {
            let event = CaseEvent {
                case: CaseId(7),
                seq: 1,
                at: at(),
                kind: EventKind::Collapsed {
                    members: chunk.to_vec(),
                    total: 200,
                },
            };
            assert!(event.note().text.chars().count() <= 1900);
            assert!(chunk.len() <= MEMBERS_PER_NOTE);
        }
        // Long handles and links make shorter notes, never longer ones.
        let long: Vec<StormMember> = (0..30)
            .map(|n| StormMember {
                url: format!("https://example.com/{}", "x".repeat(500)),
                ..member(n)
            })
            .collect();
        for chunk in member_chunks(&long) {
            let lines: usize = chunk.iter().map(|m| m.line().chars().count() + 1).sum();
            assert!(lines <= MEMBERS_NOTE_MAX, "{lines}");
        }
        assert!(member_chunks(&[]).is_empty());
    }

    #[test]
    fn long_quotes_are_cut() {
        let event = CaseEvent {
            case: CaseId(7),
            seq: 1,
            at: at(),
            kind: EventKind::FollowUp {
                post_id: "p2".to_string(),
                author_handle: "jo".to_string(),
                text: "x".repeat(5000),
                url: "https://bsky.app/post/p2".to_string(),
            },
        };
        let text = event.note().text;
        let quoted = text
            .strip_prefix("@jo wrote: “")
            .and_then(|rest| rest.strip_suffix('”'))
            .expect("a quote");
        assert_eq!(quoted.chars().count(), NOTE_QUOTE_MAX);
        assert!(quoted.ends_with('…'));
    }

    #[test]
    fn warnings_mention_the_owner_or_the_channel() {
        let due = Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap();
        let note = |kind| {
            CaseEvent {
                case: CaseId(7),
                seq: 2,
                at: at(),
                kind,
            }
            .note()
            .mention
        };
        let owned = note(EventKind::SlaWarning {
            due_at: due,
            owner: Some(ana()),
        })
        .unwrap();
        assert_eq!(
            owned,
            NoteMention::Agent {
                id: "slack:U-ana".to_string(),
                name: "Ana".to_string()
            }
        );
        assert_eq!(owned.id_in("slack"), Some("U-ana"));
        assert_eq!(owned.id_in("discord"), None);
        assert_eq!(owned.id_in("slac"), None);
        assert_eq!(
            note(EventKind::NextResponseWarning {
                due_at: due,
                owner: None
            }),
            Some(NoteMention::Channel)
        );
        assert_eq!(note(EventKind::SlaBreached { due_at: due }), None);
    }
}
