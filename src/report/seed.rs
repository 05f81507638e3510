//! Hand-built cases for the report's tests, the unit tests next to it and the integration
//! tests that seed a store: a case opened at a given time with its opening event, a claim, a
//! public reply. The bot itself never uses them.

use chrono::{DateTime, Duration, Utc};

use crate::domain::{
    Agent, Author, Case, CaseEvent, CaseId, EventKind, Label, Mention, MentionKind, Network,
    SentReply, Triage,
};

/// Case `id`, opened at `at` from a mention by `user<id>` on `network` triaged as `label`,
/// with its opening event.
pub fn opened(
    id: u64,
    network: Network,
    label: Label,
    followers: Option<u64>,
    at: DateTime<Utc>,
) -> (Case, Vec<CaseEvent>) {
    let mention = Mention {
        network,
        source: "demo".into(),
        id: format!("p{id}"),
        url: format!("https://example.social/p{id}"),
        author: Author {
            id: format!("u{id}"),
            handle: format!("user{id}"),
            display_name: None,
            followers,
        },
        text: "my order never arrived".into(),
        created_at: at,
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: None,
        from_brand: false,
        raw: None,
    };
    let triage = Triage {
        label,
        score: 0.9,
        reason: String::new(),
    };
    let transition = Case::open(CaseId(id), mention, triage, at);
    (transition.case, transition.events)
}

/// Appends the case's next event.
pub fn push(events: &mut Vec<CaseEvent>, case: &Case, at: DateTime<Utc>, kind: EventKind) {
    events.push(CaseEvent {
        case: case.id,
        seq: events.len() as u32,
        at,
        kind,
    });
}

/// `by` claims the case `after` minutes after it opened.
pub fn claimed(events: &mut Vec<CaseEvent>, case: &Case, after: i64, by: &Agent) {
    let at = case.opened_at + Duration::minutes(after);
    push(events, case, at, EventKind::Claimed { by: by.clone() });
}

/// `by` answers the customer publicly `after` minutes after the case opened.
pub fn replied(case: &mut Case, after: i64, by: &Agent) {
    let at = case.opened_at + Duration::minutes(after);
    case.first_response_at.get_or_insert(at);
    case.replies.push(SentReply {
        reply_id: format!("c{}-v{}", case.id.0, case.replies.len() + 1),
        by: by.clone(),
        text: "sorry".into(),
        post_id: format!("r{}", case.replies.len() + 1),
        url: None,
        at,
    });
}
