//! The card: one adapter-neutral model of what a case looks like in a chat.
//!
//! Every chat adapter renders this same `Card` within its own limits; none of them looks at a
//! `Case` directly. Text here is already PII masked and bounded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::action::{ActionKind, Payload};
use super::case::{Case, CaseId, CaseState, Escalation, Triage};
use super::mention::Network;
use super::text::{mask_pii, truncate_chars};

/// The longest post text a card carries, in characters; adapters may cut further.
pub const CARD_TEXT_MAX: usize = 1500;

/// What a chat shows for a case (or for a hand-off of a case to a target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// The case.
    pub case_id: CaseId,
    /// The case version the buttons carry.
    pub version: u64,
    /// A case card, or the linked card a target's channel gets.
    pub kind: CardKind,
    /// One line: label and network ("Complaint on Bluesky").
    pub title: String,
    /// The network.
    pub network: Network,
    /// The customer's handle, without `@`.
    pub author_handle: String,
    /// The customer's display name.
    pub author_name: Option<String>,
    /// A link to the customer's post.
    pub post_url: String,
    /// The post, PII masked and cut to `CARD_TEXT_MAX`.
    pub text: String,
    /// Whether `text` was cut (the link has the rest).
    pub text_truncated: bool,
    /// Triage's verdict.
    pub triage: Triage,
    /// Earlier cases by the same customer, in one line.
    pub context: Option<String>,
    /// Where the case stands.
    pub state: CaseState,
    /// One line: owner, follow-ups, replies, escalations, reply in flight.
    pub state_line: String,
    /// The owner's name.
    pub owner: Option<String>,
    /// When the case was opened.
    pub opened_at: DateTime<Utc>,
    /// The buttons, in order.
    pub buttons: Vec<Button>,
    /// The network's reply length limit.
    pub reply_limit: usize,
}

/// Which card this is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CardKind {
    /// The case's own card in the team's channel.
    Case,
    /// The linked card posted to an escalation target's channel.
    Escalation {
        /// The target's label.
        target: String,
        /// Who escalated.
        by: String,
        /// The internal note.
        note: String,
    },
}

/// A button on a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    /// What it does.
    pub kind: ActionKind,
    /// Its label.
    pub label: String,
    /// The encoded payload (`verb:case:version`).
    pub payload: String,
    /// How prominent it is.
    pub style: ButtonStyle,
}

/// Button emphasis; adapters map it to their own styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    /// The next step most people take.
    Primary,
    /// Plain.
    Default,
    /// Destructive or closing.
    Danger,
}

/// What the store knows about the customer's earlier cases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerContext {
    /// Earlier cases by the same author, oldest first: id and state.
    pub earlier: Vec<(CaseId, CaseState)>,
}

impl CustomerContext {
    fn line(&self) -> Option<String> {
        let (last_id, last_state) = self.earlier.last()?;
        let count = self.earlier.len();
        let cases = if count == 1 { "case" } else { "cases" };
        Some(format!(
            "{count} earlier {cases} from this customer; last {last_id} ({last_state})"
        ))
    }
}

/// The card for a case.
pub fn case_card(case: &Case, context: &CustomerContext) -> Card {
    let mut card = base_card(case, CardKind::Case);
    card.context = context.line();
    card.buttons = buttons_for(case);
    card
}

/// The linked card for a target's channel when a case is escalated.
pub fn escalation_card(case: &Case, escalation: &Escalation) -> Card {
    let kind = CardKind::Escalation {
        target: escalation.label.clone(),
        by: escalation.by.name.clone(),
        note: truncate_chars(&mask_pii(&escalation.note), CARD_TEXT_MAX),
    };
    let mut card = base_card(case, kind);
    card.title = format!(
        "Escalated to {}: {} on {}",
        escalation.label,
        case.triage.label,
        case.network.label()
    );
    card
}

/// The reply form's starting text: the customer's handle, so the reply notifies them.
pub fn reply_prefill(case: &Case) -> String {
    format!("@{} ", case.customer.handle)
}

fn base_card(case: &Case, kind: CardKind) -> Card {
    let masked = mask_pii(&case.opening.text);
    let text = truncate_chars(&masked, CARD_TEXT_MAX);
    let label = case.triage.label.as_str();
    let mut title = String::with_capacity(40);
    title.push_str(&label[..1].to_uppercase());
    title.push_str(&label[1..]);
    Card {
        case_id: case.id,
        version: case.version,
        kind,
        title: format!("{title} on {}", case.network.label()),
        network: case.network,
        author_handle: case.customer.handle.clone(),
        author_name: case.customer.display_name.clone(),
        post_url: case.opening.url.clone(),
        text_truncated: text != masked,
        text,
        triage: case.triage.clone(),
        context: None,
        state: case.state,
        state_line: state_line(case),
        owner: case.owner.as_ref().map(|owner| owner.name.clone()),
        opened_at: case.opened_at,
        buttons: Vec::new(),
        reply_limit: case.network.default_reply_limit(),
    }
}

fn state_line(case: &Case) -> String {
    let mut parts = vec![match &case.owner {
        Some(owner) => format!("{} · owner {}", capitalized(case.state.label()), owner.name),
        None => format!("{} · unclaimed", capitalized(case.state.label())),
    }];
    if case.follow_ups > 0 {
        let noun = if case.follow_ups == 1 {
            "follow-up"
        } else {
            "follow-ups"
        };
        parts.push(format!("{} {noun}", case.follow_ups));
    }
    if !case.replies.is_empty() {
        parts.push(format!(
            "{} public repl{}",
            case.replies.len(),
            plural_y(case.replies.len())
        ));
    }
    if case.pending_reply.is_some() {
        parts.push("sending reply…".to_string());
    } else if case.draft.is_some() {
        parts.push("last reply failed".to_string());
    }
    if !case.escalations.is_empty() {
        let targets: Vec<&str> = case.escalations.iter().map(|e| e.label.as_str()).collect();
        parts.push(format!("escalated to {}", targets.join(", ")));
    }
    parts.join(" · ")
}

fn plural_y(count: usize) -> &'static str {
    if count == 1 {
        "y"
    } else {
        "ies"
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn buttons_for(case: &Case) -> Vec<Button> {
    let kinds: &[ActionKind] = match case.state {
        CaseState::Resolved | CaseState::Dismissed => &[ActionKind::Reopen],
        _ if case.owner.is_none() => &[
            ActionKind::Claim,
            ActionKind::Reply,
            ActionKind::Escalate,
            ActionKind::Resolve,
            ActionKind::Dismiss,
        ],
        _ => &[
            ActionKind::Reply,
            ActionKind::Unclaim,
            ActionKind::Escalate,
            ActionKind::Resolve,
            ActionKind::Dismiss,
        ],
    };
    kinds
        .iter()
        .enumerate()
        .map(|(index, &kind)| Button {
            kind,
            label: kind.label().to_string(),
            payload: Payload {
                kind,
                case: case.id,
                version: case.version,
            }
            .to_string(),
            style: match kind {
                ActionKind::Dismiss => ButtonStyle::Danger,
                _ if index == 0 => ButtonStyle::Primary,
                _ => ButtonStyle::Default,
            },
        })
        .collect()
}
