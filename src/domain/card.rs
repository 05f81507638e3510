//! The card: one adapter-neutral model of what a case looks like in a chat.
//!
//! Every chat adapter renders this same `Card` within its own limits; none of them looks at a
//! `Case` directly. Text here is already PII masked and bounded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::action::{ActionKind, Payload};
use super::case::{Case, CaseId, CaseState, Escalation, MessageRef, Triage};
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
    /// When the first public response is due, while the clock runs.
    pub first_response_due: Option<DateTime<Utc>>,
    /// The first-response deadline passed without an answer.
    pub overdue: bool,
    /// When the next public response is due (the customer wrote again), while that clock runs.
    #[serde(default)]
    pub next_response_due: Option<DateTime<Utc>>,
    /// The customer had other cases shortly before this one.
    #[serde(default)]
    pub repeat: Option<RepeatFlag>,
    /// On an incident (storm collapse): how many near-identical posts it holds, the opening
    /// post included; the members are listed in the thread.
    #[serde(default)]
    pub similar_posts: Option<u32>,
    /// The customer's reach as a coarse follower-count bucket ("1k-10k followers"), only with
    /// `[fairness] show_reach = true`; exact counts are never shown.
    #[serde(default)]
    pub reach: Option<String>,
}

/// "repeat customer: 3rd case in 7 days", with where the last one is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatFlag {
    /// The line shown on the card.
    pub text: String,
    /// The customer's previous case.
    pub last_case: CaseId,
    /// That case's card in each chat, by chat name, for a link where the chat can make one.
    pub last_cards: BTreeMap<String, MessageRef>,
}

impl Card {
    /// The incident line ("200 similar posts · members in the thread"), on incidents only.
    pub fn incident_line(&self) -> Option<String> {
        self.similar_posts
            .map(|count| format!("Incident: {count} similar posts · members in the thread"))
    }

    /// What the card is about, for logs: `case #7`, or `kudos #3` (a kudos card's `case_id`
    /// carries the kudos id: it is not a case).
    pub fn subject(&self) -> String {
        match self.kind {
            CardKind::Kudos => format!("kudos #{}", self.case_id.0),
            _ => format!("case {}", self.case_id),
        }
    }
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
    /// A praise post in the kudos channel (`domain::kudos`): no state, one button.
    Kudos,
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
    /// When each earlier case opened, in the order of `earlier` (empty: no repeat flag).
    pub earlier_opened: Vec<DateTime<Utc>>,
    /// The last earlier case's card in each chat, by chat name.
    pub last_cards: BTreeMap<String, MessageRef>,
    /// `[customers].repeat_within`: a case opened this soon after another by the same
    /// customer is flagged. `None` turns the flag off.
    pub repeat_within: Option<chrono::Duration>,
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

    /// The repeat flag for a case opened at `opened_at`, if earlier cases fall in the window.
    fn repeat(&self, opened_at: DateTime<Utc>) -> Option<RepeatFlag> {
        let window = self
            .repeat_within
            .filter(|w| *w > chrono::Duration::zero())?;
        let (last_case, _) = *self.earlier.last()?;
        let recent = self
            .earlier_opened
            .iter()
            .filter(|&&at| at <= opened_at && opened_at - at <= window)
            .count();
        if recent == 0 {
            return None;
        }
        Some(RepeatFlag {
            text: format!(
                "repeat customer: {} case in {}",
                ordinal(recent + 1),
                span(window)
            ),
            last_case,
            last_cards: self.last_cards.clone(),
        })
    }
}

/// "2nd", "11th", "23rd".
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "7 days", "1 day", "36 hours", "90 minutes".
fn span(window: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if window.num_hours() % 24 == 0 && window.num_hours() > 0 && window.num_minutes() % 60 == 0 {
        plural(window.num_days(), "day")
    } else if window.num_minutes() % 60 == 0 && window.num_minutes() > 0 {
        plural(window.num_hours(), "hour")
    } else {
        plural(window.num_minutes().max(1), "minute")
    }
}

/// The card for a case.
pub fn case_card(case: &Case, context: &CustomerContext) -> Card {
    let mut card = base_card(case, CardKind::Case);
    card.context = context.line();
    card.repeat = context.repeat(case.opened_at);
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
        state_line: state_line(case, None),
        owner: case.owner.as_ref().map(|owner| owner.name.clone()),
        opened_at: case.opened_at,
        buttons: Vec::new(),
        reply_limit: case.network.default_reply_limit(),
        first_response_due: sla_running(case)
            .then_some(case.first_response_due)
            .flatten(),
        overdue: (sla_running(case) && case.sla_breached)
            || next_clock(case).is_some_and(|clock| clock.breached),
        next_response_due: next_clock(case).map(|clock| clock.due_at),
        repeat: None,
        similar_posts: (case.similar_posts > 0).then_some(case.similar_posts + 1),
        reach: None,
    }
}

/// The next-response clock, while it runs.
fn next_clock(case: &Case) -> Option<super::case::ResponseClock> {
    case.next_response.filter(|_| !case.state.is_closed())
}

/// "10:05 UTC" on the day the clock started, "Mon 09 Mar 09:20 UTC" on another day; in
/// `zone` (the office's, `[sla.business_hours]`) with its abbreviation when given: "11:05 CET".
fn due_time(due: DateTime<Utc>, started: DateTime<Utc>, zone: Option<&TimeZone>) -> String {
    let Some(zone) = zone else {
        return if due.date_naive() == started.date_naive() {
            due.format("%H:%M UTC").to_string()
        } else {
            due.format("%a %d %b %H:%M UTC").to_string()
        };
    };
    let local = |at| super::hours::to_timestamp(at).to_zoned(zone.clone());
    let (due, started) = (local(due), local(started));
    if due.date() == started.date() {
        due.strftime("%H:%M %Z").to_string()
    } else {
        due.strftime("%a %d %b %H:%M %Z").to_string()
    }
}

/// The card's state line with its due times in `zone` (the office's time zone, with its
/// abbreviation) instead of UTC. The zone is a value handed in: this stays pure.
pub fn state_line_in(case: &Case, zone: &TimeZone) -> String {
    state_line(case, Some(zone))
}

/// The card's reach line for `[fairness] show_reach`: the follower-count bucket, or `None`
/// when the network does not say (Bluesky).
pub fn reach_line(case: &Case) -> Option<String> {
    case.customer.followers.map(|followers| {
        format!(
            "{} followers",
            super::mention::reach_bucket(Some(followers))
        )
    })
}

fn state_line(case: &Case, zone: Option<&TimeZone>) -> String {
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
    } else if let Some(waiting) = &case.awaiting_approval {
        parts.push(format!("draft by {} awaiting approval", waiting.by.name));
    } else if let Some(draft) = &case.draft {
        if draft.error.starts_with("rejected by ") {
            parts.push(format!("draft {}", draft.error));
        } else {
            parts.push("last reply failed".to_string());
        }
    }
    if let (true, Some(due)) = (sla_running(case), case.first_response_due) {
        let at = due_time(due, case.opened_at, zone);
        if case.sla_breached {
            parts.push(format!("first response overdue (due {at})"));
        } else {
            parts.push(format!("first response due {at}"));
        }
    }
    if let Some(clock) = next_clock(case) {
        let at = due_time(clock.due_at, clock.started_at, zone);
        if clock.breached {
            parts.push(format!("next response overdue (due {at})"));
        } else {
            parts.push(format!("next response due {at}"));
        }
    }
    if !case.escalations.is_empty() {
        let targets: Vec<&str> = case.escalations.iter().map(|e| e.label.as_str()).collect();
        parts.push(format!("escalated to {}", targets.join(", ")));
    }
    parts.join(" · ")
}

fn sla_running(case: &Case) -> bool {
    case.first_response_due.is_some() && case.first_response_at.is_none() && !case.state.is_closed()
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
        // A draft waits: the approvers' buttons first (others are refused privately), Reply
        // for its author to revise it; Unclaim makes room (Discord rows hold five).
        _ if case.awaiting_approval.is_some() => &[
            ActionKind::Approve,
            ActionKind::Edit,
            ActionKind::Reject,
            ActionKind::Reply,
            ActionKind::Escalate,
            ActionKind::Resolve,
            ActionKind::Dismiss,
        ],
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
                ActionKind::Dismiss | ActionKind::Reject => ButtonStyle::Danger,
                _ if index == 0 => ButtonStyle::Primary,
                _ => ButtonStyle::Default,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::case::{Agent, Draft, Label, PendingReply, SentReply};
    use crate::domain::mention::{Author, Mention, MentionKind, PostRef};

    fn opened_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    fn agent(name: &str) -> Agent {
        Agent::new(format!("slack:U-{name}"), name)
    }

    /// Case #7, opened from a Bluesky post with `text`, at version 3.
    fn case_with_text(text: &str) -> Case {
        let mention = Mention {
            network: Network::Bluesky,
            source: "bsky-main".to_string(),
            id: "p1".to_string(),
            url: "https://bsky.app/post/p1".to_string(),
            author: Author {
                id: "did:plc:customer".to_string(),
                handle: "jo.bsky.social".to_string(),
                display_name: Some("Jo".to_string()),
                followers: Some(12),
            },
            text: text.to_string(),
            created_at: opened_at(),
            in_reply_to: None,
            root: None,
            kind: MentionKind::Mention,
            lang: None,
            from_brand: false,
            raw: None,
        };
        let triage = Triage {
            label: Label::Complaint,
            score: 0.91,
            reason: "\"never arrived\"".to_string(),
        };
        let mut case = Case::open(CaseId(7), mention, triage, opened_at()).case;
        case.version = 3;
        case
    }

    fn case_in(state: CaseState, owner: Option<&str>) -> Case {
        let mut case = case_with_text("my order never arrived");
        case.state = state;
        case.owner = owner.map(agent);
        case
    }

    fn escalation(label: &str, note: &str) -> Escalation {
        Escalation {
            target: label.to_lowercase(),
            label: label.to_string(),
            by: agent("bea"),
            note: note.to_string(),
            at: opened_at(),
        }
    }

    fn sent_reply(id: &str) -> SentReply {
        SentReply {
            reply_id: id.to_string(),
            by: agent("ana"),
            text: "@jo.bsky.social sorry!".to_string(),
            post_id: format!("post-{id}"),
            url: None,
            at: opened_at(),
        }
    }

    /// A button as a person sees it: what it does and how prominent it is.
    type Shown = (ActionKind, ButtonStyle);

    fn check_buttons(case: Case, expected: &[Shown]) {
        let card = case_card(&case, &CustomerContext::default());
        let buttons: Vec<Shown> = card
            .buttons
            .iter()
            .map(|button| (button.kind, button.style))
            .collect();
        assert_eq!(
            buttons, expected,
            "{:?} owned by {:?}",
            case.state, case.owner
        );
        for button in &card.buttons {
            assert_eq!(button.label, button.kind.label());
            assert_eq!(
                button.payload.parse::<Payload>(),
                Ok(Payload {
                    kind: button.kind,
                    case: CaseId(7),
                    version: 3,
                }),
                "payload {:?}",
                button.payload
            );
        }
    }

    #[test]
    fn buttons_follow_the_state_and_the_owner() {
        use ActionKind::*;
        use ButtonStyle::{Danger, Default as Plain, Primary};
        let unowned = [
            (Claim, Primary),
            (Reply, Plain),
            (Escalate, Plain),
            (Resolve, Plain),
            (Dismiss, Danger),
        ];
        let owned = [
            (Reply, Primary),
            (Unclaim, Plain),
            (Escalate, Plain),
            (Resolve, Plain),
            (Dismiss, Danger),
        ];
        let closed = [(Reopen, Primary)];
        let table: Vec<(CaseState, Option<&str>, &[Shown])> = vec![
            (CaseState::New, None, &unowned),
            (CaseState::Claimed, Some("ana"), &owned),
            (CaseState::Replied, None, &unowned),
            (CaseState::Replied, Some("ana"), &owned),
            (CaseState::CustomerReplied, None, &unowned),
            (CaseState::CustomerReplied, Some("ana"), &owned),
            (CaseState::Resolved, None, &closed),
            (CaseState::Resolved, Some("ana"), &closed),
            (CaseState::Dismissed, None, &closed),
            (CaseState::Dismissed, Some("ana"), &closed),
        ];
        for (state, owner, expected) in table {
            check_buttons(case_in(state, owner), expected);
        }
    }

    #[test]
    fn the_card_carries_the_post_and_the_case() {
        let card = case_card(
            &case_in(CaseState::Claimed, Some("ana")),
            &Default::default(),
        );
        assert_eq!(card.case_id, CaseId(7));
        assert_eq!(card.version, 3);
        assert_eq!(card.kind, CardKind::Case);
        assert_eq!(card.title, "Complaint on Bluesky");
        assert_eq!(card.network, Network::Bluesky);
        assert_eq!(card.author_handle, "jo.bsky.social");
        assert_eq!(card.author_name.as_deref(), Some("Jo"));
        assert_eq!(card.post_url, "https://bsky.app/post/p1");
        assert_eq!(card.text, "my order never arrived");
        assert!(!card.text_truncated);
        assert_eq!(card.triage.reason, "\"never arrived\"");
        assert_eq!(card.state, CaseState::Claimed);
        assert_eq!(card.owner.as_deref(), Some("ana"));
        assert_eq!(card.opened_at, opened_at());
        assert_eq!(card.reply_limit, 300);
        assert_eq!(card.context, None);
    }

    fn check_text(post: &str, expected_chars: usize, expected_truncated: bool) {
        let card = case_card(&case_with_text(post), &CustomerContext::default());
        assert_eq!(
            (card.text.chars().count(), card.text_truncated),
            (expected_chars, expected_truncated),
            "post of {} chars",
            post.chars().count()
        );
        assert!(card.text.chars().count() <= CARD_TEXT_MAX);
        assert_eq!(card.text.ends_with('…'), expected_truncated);
    }

    #[test]
    fn long_posts_are_cut_to_the_card_limit() {
        check_text("short", 5, false);
        check_text(&"a".repeat(CARD_TEXT_MAX), CARD_TEXT_MAX, false);
        check_text(&"a".repeat(CARD_TEXT_MAX + 1), CARD_TEXT_MAX, true);
        check_text(&"é".repeat(4000), CARD_TEXT_MAX, true);
        // Masking can make a post longer than the limit.
        let near_limit = format!("{} a@b.co", "a".repeat(CARD_TEXT_MAX - 8));
        check_text(&near_limit, CARD_TEXT_MAX, true);
    }

    #[test]
    fn personal_data_is_masked_on_cards() {
        let case =
            case_with_text("mail jo.doe@example.com or call +44 20 7946 0958, order 4471223");
        let card = case_card(&case, &CustomerContext::default());
        assert_eq!(
            card.text,
            "mail [e-mail address hidden] or call [phone number hidden], order 4471223"
        );
        let escalated = escalation_card(
            &case,
            &escalation("Billing", "refund to card 4111 1111 1111 1111"),
        );
        assert_eq!(escalated.text, card.text);
        assert_eq!(
            escalated.kind,
            CardKind::Escalation {
                target: "Billing".to_string(),
                by: "bea".to_string(),
                note: "refund to card [card number hidden]".to_string(),
            }
        );
    }

    fn check_state_line(case: Case, expected: &str) {
        assert_eq!(
            case_card(&case, &CustomerContext::default()).state_line,
            expected
        );
    }

    #[test]
    fn the_state_line_sums_the_case_up() {
        check_state_line(case_in(CaseState::New, None), "New · unclaimed");
        check_state_line(
            case_in(CaseState::Claimed, Some("ana")),
            "Claimed · owner ana",
        );
        check_state_line(
            case_in(CaseState::Dismissed, None),
            "Not a complaint · unclaimed",
        );

        let mut busy = case_in(CaseState::CustomerReplied, Some("ana"));
        busy.follow_ups = 2;
        busy.replies.push(sent_reply("c7-v2"));
        busy.pending_reply = Some(PendingReply {
            reply_id: "c7-v3".to_string(),
            by: agent("ana"),
            text: "@jo.bsky.social on it".to_string(),
            in_reply_to: PostRef::new(Network::Bluesky, "p1"),
            root: PostRef::new(Network::Bluesky, "p1"),
            queued_at: opened_at(),
            approved_by: None,
        });
        busy.escalations = vec![escalation("Billing", ""), escalation("Legal", "")];
        check_state_line(
            busy.clone(),
            "Customer replied · owner ana · 2 follow-ups · 1 public reply · sending reply… · escalated to Billing, Legal",
        );

        // A reply in flight hides an older failure; once it is settled the failure shows.
        busy.draft = Some(Draft {
            by: agent("ana"),
            text: "@jo.bsky.social on it".to_string(),
            error: "400".to_string(),
        });
        busy.pending_reply = None;
        busy.follow_ups = 1;
        busy.replies.push(sent_reply("c7-v5"));
        busy.escalations.clear();
        check_state_line(
            busy,
            "Customer replied · owner ana · 1 follow-up · 2 public replies · last reply failed",
        );
    }

    #[test]
    fn a_waiting_draft_shows_on_the_card_with_the_approvers_buttons() {
        let mut case = case_in(CaseState::Claimed, Some("ana"));
        case.awaiting_approval = Some(crate::domain::case::ApprovalDraft {
            by: agent("ana"),
            text: "@jo.bsky.social sorry".to_string(),
            form_version: case.version,
            at: opened_at(),
        });
        let card = case_card(&case, &CustomerContext::default());
        assert_eq!(
            card.state_line,
            "Claimed · owner ana · draft by ana awaiting approval"
        );
        let kinds: Vec<ActionKind> = card.buttons.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds[..4],
            [
                ActionKind::Approve,
                ActionKind::Edit,
                ActionKind::Reject,
                ActionKind::Reply
            ]
        );
        assert!(!kinds.contains(&ActionKind::Unclaim));

        case.awaiting_approval = None;
        case.draft = Some(Draft {
            by: agent("ana"),
            text: "@jo.bsky.social sorry".to_string(),
            error: "rejected by bo: too short".to_string(),
        });
        check_state_line(
            case,
            "Claimed · owner ana · draft rejected by bo: too short",
        );
    }

    fn check_context(earlier: Vec<(CaseId, CaseState)>, expected: Option<&str>) {
        let card = case_card(
            &case_in(CaseState::New, None),
            &CustomerContext {
                earlier,
                ..Default::default()
            },
        );
        assert_eq!(card.context.as_deref(), expected);
    }

    #[test]
    fn the_context_line_counts_earlier_cases() {
        check_context(vec![], None);
        check_context(
            vec![(CaseId(3), CaseState::Resolved)],
            Some("1 earlier case from this customer; last #3 (resolved)"),
        );
        check_context(
            vec![
                (CaseId(2), CaseState::Dismissed),
                (CaseId(5), CaseState::CustomerReplied),
            ],
            Some("2 earlier cases from this customer; last #5 (customer replied)"),
        );
    }

    #[test]
    fn a_repeat_within_the_window_is_flagged() {
        let opened = opened_at();
        let days = chrono::Duration::days;
        let refs: BTreeMap<String, MessageRef> = [(
            "console".to_string(),
            MessageRef {
                channel: "cases".to_string(),
                message: "m5".to_string(),
                thread: None,
            },
        )]
        .into_iter()
        .collect();
        let flag = |opened_before: Vec<i64>, within: Option<i64>| {
            let earlier = (0..opened_before.len())
                .map(|i| (CaseId(i as u64 + 1), CaseState::Resolved))
                .collect();
            let context = CustomerContext {
                earlier,
                earlier_opened: opened_before.iter().map(|d| opened - days(*d)).collect(),
                last_cards: refs.clone(),
                repeat_within: within.map(days),
            };
            case_card(&case_in(CaseState::New, None), &context)
                .repeat
                .map(|flag| (flag.text, flag.last_case))
        };
        // (days before this case each earlier one opened, window in days, expected)
        assert_eq!(flag(vec![], Some(7)), None, "a first case");
        assert_eq!(flag(vec![30], Some(7)), None, "too long ago");
        assert_eq!(flag(vec![3], None), None, "flag turned off");
        assert_eq!(flag(vec![3], Some(0)), None, "a zero window is off");
        assert_eq!(
            flag(vec![3], Some(7)),
            Some(("repeat customer: 2nd case in 7 days".to_string(), CaseId(1)))
        );
        assert_eq!(
            flag(vec![40, 6, 1], Some(7)),
            Some(("repeat customer: 3rd case in 7 days".to_string(), CaseId(3)))
        );
        assert_eq!(
            flag(vec![0; 10], Some(1)),
            Some((
                "repeat customer: 11th case in 1 day".to_string(),
                CaseId(10)
            ))
        );
        let context = CustomerContext {
            earlier: vec![(CaseId(5), CaseState::Resolved)],
            earlier_opened: vec![opened - chrono::Duration::hours(2)],
            last_cards: refs.clone(),
            repeat_within: Some(chrono::Duration::hours(36)),
        };
        let card = case_card(&case_in(CaseState::New, None), &context);
        let repeat = card.repeat.unwrap();
        assert_eq!(repeat.text, "repeat customer: 2nd case in 36 hours");
        assert_eq!(repeat.last_cards, refs);
        assert_eq!(ordinal(21), "21st");
        assert_eq!(ordinal(112), "112th");
    }

    #[test]
    fn the_state_line_shows_both_clocks() {
        let mut case = case_in(CaseState::CustomerReplied, Some("ana"));
        case.first_response_at = Some(opened_at());
        case.first_response_due = Some(opened_at() + chrono::Duration::minutes(30));
        let started = opened_at() + chrono::Duration::hours(1);
        case.next_response = Some(crate::domain::ResponseClock {
            started_at: started,
            warning_at: started + chrono::Duration::minutes(20),
            due_at: started + chrono::Duration::minutes(30),
            warned: false,
            breached: false,
        });
        let card = case_card(&case, &CustomerContext::default());
        assert_eq!(
            card.state_line,
            "Customer replied · owner ana · next response due 10:30 UTC"
        );
        assert_eq!(
            card.next_response_due,
            Some(started + chrono::Duration::minutes(30))
        );
        assert!(!card.overdue);

        // Over a weekend the day is shown; a breach marks the card overdue.
        let mut clock = case.next_response.unwrap();
        clock.due_at = Utc.with_ymd_and_hms(2026, 3, 9, 8, 20, 0).unwrap();
        clock.breached = true;
        case.next_response = Some(clock);
        let card = case_card(&case, &CustomerContext::default());
        assert_eq!(
            card.state_line,
            "Customer replied · owner ana · next response overdue (due Mon 09 Mar 08:20 UTC)"
        );
        assert!(card.overdue);

        case.state = CaseState::Resolved;
        let card = case_card(&case, &CustomerContext::default());
        assert_eq!((card.next_response_due, card.overdue), (None, false));
    }

    #[test]
    fn due_times_are_shown_in_the_office_zone_with_its_abbreviation() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let mut case = case_in(CaseState::New, None);
        // Opened Monday 2 March 09:00 UTC (10:00 CET), due 09:30 UTC.
        case.first_response_due = Some(opened_at() + chrono::Duration::minutes(30));
        assert_eq!(
            state_line_in(&case, &berlin),
            "New · unclaimed · first response due 10:30 CET"
        );
        // Without a zone it stays UTC, as before.
        assert_eq!(
            case_card(&case, &CustomerContext::default()).state_line,
            "New · unclaimed · first response due 09:30 UTC"
        );
        // Past the clocks' change (29 March) the summer abbreviation is shown, and the day is
        // the local one: 22:30 UTC on the 30th is 00:30 on the 31st in Berlin.
        case.first_response_due = Some(Utc.with_ymd_and_hms(2026, 3, 30, 22, 30, 0).unwrap());
        case.sla_breached = true;
        assert_eq!(
            state_line_in(&case, &berlin),
            "New · unclaimed · first response overdue (due Tue 31 Mar 00:30 CEST)"
        );
        // 15:30 UTC on the day of opening (18:00 JST) is the next local day in Tokyo.
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        case.sla_breached = false;
        case.first_response_due = Some(Utc.with_ymd_and_hms(2026, 3, 2, 15, 30, 0).unwrap());
        assert_eq!(
            state_line_in(&case, &tokyo),
            "New · unclaimed · first response due Tue 03 Mar 00:30 JST"
        );
    }

    #[test]
    fn the_escalation_card_links_back_without_buttons() {
        let case = case_in(CaseState::Claimed, Some("ana"));
        let card = escalation_card(&case, &escalation("Billing", "  refund over the limit"));
        assert_eq!(card.title, "Escalated to Billing: complaint on Bluesky");
        assert_eq!((card.case_id, card.version), (CaseId(7), 3));
        assert!(card.buttons.is_empty());
        assert_eq!(card.context, None);
        assert_eq!(card.post_url, "https://bsky.app/post/p1");
    }

    #[test]
    fn the_reply_form_starts_with_the_customers_handle() {
        assert_eq!(
            reply_prefill(&case_in(CaseState::New, None)),
            "@jo.bsky.social "
        );
    }

    #[test]
    fn reach_is_a_coarse_bucket_and_off_the_card_by_default() {
        let mut case = case_with_text("my order never arrived");
        assert_eq!(case_card(&case, &CustomerContext::default()).reach, None);
        let table = [
            (None, None),
            (Some(12), Some("<100 followers")),
            (Some(999), Some("100-1k followers")),
            (Some(1_000), Some("1k-10k followers")),
            (Some(99_999), Some("10k-100k followers")),
            (Some(100_000), Some("100k+ followers")),
        ];
        for (followers, line) in table {
            case.customer.followers = followers;
            assert_eq!(reach_line(&case).as_deref(), line, "{followers:?}");
        }
    }
}
