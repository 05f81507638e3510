//! The case state machine, as a table: every state, with and without an owner (and a pending
//! reply where it matters), against every command. Reading `every_state_against_every_command`
//! tells the whole state machine; the tests after it pin down the details a table row can't.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::case::CaseState::{Claimed, CustomerReplied, Dismissed, New, Replied, Resolved};
use super::case::{
    apply, Agent, Case, CaseId, CaseState, Command, Draft, Escalation, Label, PendingReply,
    Refusal, SentReply, Transition, Triage,
};
use super::event::{CaseEvent, EventKind};
use super::mention::{Author, Mention, MentionKind, Network, PostRef};

const CASE: CaseId = CaseId(7);
const ANA: &str = "ana";
const BEA: &str = "bea";
/// The reply id of the pending reply a `Given::pending()` case carries.
const PENDING_ID: &str = "c7-v4";
/// The version every table case is at.
const GIVEN_VERSION: u64 = 5;
/// The sequence number the next event of every table case gets.
const GIVEN_NEXT_SEQ: u32 = 4;

fn opened_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn now() -> DateTime<Utc> {
    opened_at() + Duration::minutes(30)
}

fn agent(name: &str) -> Agent {
    Agent::new(format!("slack:U-{name}"), name)
}

fn customer() -> Author {
    Author {
        id: "did:plc:customer".to_string(),
        handle: "jo.bsky.social".to_string(),
        display_name: Some("Jo".to_string()),
        followers: None,
    }
}

fn brand() -> Author {
    Author {
        id: "did:plc:brand".to_string(),
        handle: "acme.bsky.social".to_string(),
        display_name: Some("Acme".to_string()),
        followers: None,
    }
}

fn post(id: &str, author: Author, text: &str) -> Mention {
    Mention {
        network: Network::Bluesky,
        source: "bsky-main".to_string(),
        id: id.to_string(),
        url: format!("https://bsky.app/post/{id}"),
        author,
        text: text.to_string(),
        created_at: opened_at(),
        in_reply_to: Some("root-post".to_string()),
        root: Some("root-post".to_string()),
        kind: MentionKind::Mention,
        lang: Some("en".to_string()),
        from_brand: false,
        raw: None,
    }
}

fn triage() -> Triage {
    Triage {
        label: Label::Complaint,
        score: 0.91,
        reason: "\"never arrived\"".to_string(),
    }
}

/// A case just opened from a customer's complaint: version 1, one event.
fn fresh_case() -> Case {
    let opening = post("p1", customer(), "my order never arrived");
    Case::open(CASE, opening, triage(), opened_at()).case
}

fn follow_up(id: &str) -> Command {
    Command::FollowUp {
        mention: post(id, customer(), "still nothing, call me on +44 20 7946 0958"),
    }
}

fn replied_outside() -> Command {
    Command::RepliedOutside {
        mention: post("brand-1", brand(), "sorry Jo, we're on it"),
    }
}

fn queue_reply(by: &str, form_version: u64) -> Command {
    Command::QueueReply {
        by: agent(by),
        text: "@jo.bsky.social sorry, we're looking into it ^A".to_string(),
        form_version,
    }
}

fn reply_sent(reply_id: &str) -> Command {
    Command::ReplySent {
        reply_id: reply_id.to_string(),
        post_id: "our-post-1".to_string(),
        url: Some("https://bsky.app/post/our-post-1".to_string()),
    }
}

fn reply_failed(reply_id: &str) -> Command {
    Command::ReplyFailed {
        reply_id: reply_id.to_string(),
        error: "400 text too long".to_string(),
    }
}

fn escalate(by: &str, target: &str) -> Command {
    Command::Escalate {
        by: agent(by),
        target: target.to_string(),
        label: "Billing".to_string(),
        note: "refund over the limit".to_string(),
    }
}

/// Applies and expects success.
fn accept(case: &Case, command: Command) -> Transition {
    let before = case.clone();
    match apply(case, command.clone(), now()) {
        Ok(transition) => transition,
        Err(refusal) => panic!("{command:?} on {before:?} refused: {refusal}"),
    }
}

/// Applies and expects a refusal.
fn refuse(case: &Case, command: Command) -> Refusal {
    match apply(case, command.clone(), now()) {
        Ok(transition) => panic!("{command:?} accepted: {:?}", transition.case),
        Err(refusal) => refusal,
    }
}

/// The case a table row starts from.
#[derive(Debug, Clone, Copy)]
struct Given {
    state: CaseState,
    owner: Option<&'static str>,
    /// A public reply (`PENDING_ID`, by the owner or `bea`) is queued.
    pending: bool,
    /// A public reply was posted earlier.
    replied: bool,
}

fn given(state: CaseState) -> Given {
    Given {
        state,
        owner: None,
        pending: false,
        replied: false,
    }
}

impl Given {
    fn owned_by(self, owner: &'static str) -> Given {
        Given {
            owner: Some(owner),
            ..self
        }
    }

    fn pending(self) -> Given {
        Given {
            pending: true,
            ..self
        }
    }

    fn replied(self) -> Given {
        Given {
            replied: true,
            ..self
        }
    }

    fn case(self) -> Case {
        let mut case = fresh_case();
        case.version = GIVEN_VERSION;
        case.next_event_seq = GIVEN_NEXT_SEQ;
        case.state = self.state;
        case.owner = self.owner.map(agent);
        let replier = agent(self.owner.unwrap_or(BEA));
        if self.pending {
            let (in_reply_to, root) = case.reply_target();
            case.pending_reply = Some(PendingReply {
                reply_id: PENDING_ID.to_string(),
                by: replier.clone(),
                text: "@jo.bsky.social on it".to_string(),
                in_reply_to,
                root,
                queued_at: opened_at(),
                approved_by: None,
            });
            case.reply_guard = GIVEN_VERSION;
        }
        if self.replied {
            case.replies.push(SentReply {
                reply_id: "c7-v2".to_string(),
                by: replier,
                text: "@jo.bsky.social sorry!".to_string(),
                post_id: "our-post-0".to_string(),
                url: None,
                at: opened_at(),
            });
            case.first_response_at = Some(opened_at());
            case.reply_guard = case.reply_guard.max(3);
        }
        if self.state.is_closed() {
            case.closed_at = Some(opened_at());
        }
        case
    }
}

/// A command in a table row; commands that depend on the case are built from it.
#[derive(Debug, Clone, Copy)]
enum Act {
    Claim(&'static str),
    Unclaim(&'static str),
    /// A reply from a form opened at the case's current version.
    Reply(&'static str),
    /// The outcome of the pending reply.
    Sent,
    Failed,
    /// The outcome of a reply that isn't pending.
    SentUnknown,
    FailedUnknown,
    /// Escalation to a target the case wasn't handed to yet.
    Escalate,
    Resolve,
    Dismiss,
    Reopen,
    /// A later post by the customer.
    FollowUp,
    /// A later post by someone else in the conversation.
    FollowUpByOther,
    RepliedOutside,
}

impl Act {
    fn command(self, case: &Case) -> Command {
        match self {
            Act::Claim(by) => Command::Claim { by: agent(by) },
            Act::Unclaim(by) => Command::Unclaim { by: agent(by) },
            Act::Reply(by) => queue_reply(by, case.version),
            Act::Sent => reply_sent(PENDING_ID),
            Act::Failed => reply_failed(PENDING_ID),
            Act::SentUnknown => reply_sent("c7-v99"),
            Act::FailedUnknown => reply_failed("c7-v99"),
            Act::Escalate => escalate(BEA, "billing"),
            Act::Resolve => Command::Resolve { by: agent(BEA) },
            Act::Dismiss => Command::Dismiss { by: agent(BEA) },
            Act::Reopen => Command::Reopen { by: agent(BEA) },
            Act::FollowUp => follow_up("p2"),
            Act::FollowUpByOther => Command::FollowUp {
                mention: post("p3", brand(), "+1, same here"),
            },
            Act::RepliedOutside => replied_outside(),
        }
    }
}

/// What a row expects.
#[derive(Debug)]
enum Expect {
    /// The next state, owner and the kinds of the events, in order.
    Ok(CaseState, Option<&'static str>, &'static [&'static str]),
    Refused(Refusal),
}

fn ok(state: CaseState, owner: Option<&'static str>, events: &'static [&'static str]) -> Expect {
    Expect::Ok(state, owner, events)
}

fn refused(refusal: Refusal) -> Expect {
    Expect::Refused(refusal)
}

fn closed(state: CaseState) -> Expect {
    refused(Refusal::Closed { state })
}

fn already_claimed(owner: &str) -> Expect {
    refused(Refusal::AlreadyClaimed {
        owner: agent(owner),
    })
}

fn not_owner(owner: &str) -> Expect {
    refused(Refusal::NotOwner {
        owner: agent(owner),
    })
}

fn unknown_reply() -> Expect {
    refused(Refusal::UnknownReply {
        reply_id: "c7-v99".to_string(),
    })
}

fn unknown_pending_reply() -> Expect {
    refused(Refusal::UnknownReply {
        reply_id: PENDING_ID.to_string(),
    })
}

fn kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Opened { .. } => "opened",
        EventKind::FollowUp { .. } => "follow_up",
        EventKind::Claimed { .. } => "claimed",
        EventKind::Unclaimed { .. } => "unclaimed",
        EventKind::ReplySent { .. } => "reply_sent",
        EventKind::ReplyFailed { .. } => "reply_failed",
        EventKind::Escalated { .. } => "escalated",
        EventKind::EscalationDelivered { .. } => "escalation_delivered",
        EventKind::EscalationFailed { .. } => "escalation_failed",
        EventKind::Resolved { .. } => "resolved",
        EventKind::Reopened { .. } => "reopened",
        EventKind::Dismissed { .. } => "dismissed",
        EventKind::RepliedOutside { .. } => "replied_outside",
        EventKind::SlaWarning { .. } => "sla_warning",
        EventKind::NextResponseWarning { .. } => "next_response_warning",
        EventKind::NextResponseBreached { .. } => "next_response_breached",
        EventKind::SlaBreached { .. } => "sla_breached",
        EventKind::Collapsed { .. } => "collapsed",
        EventKind::DraftSubmitted { .. } => "draft_submitted",
        EventKind::DraftApproved { .. } => "draft_approved",
        EventKind::DraftRejected { .. } => "draft_rejected",
    }
}

fn event_names(events: &[CaseEvent]) -> Vec<&'static str> {
    events.iter().map(|event| kind_name(&event.kind)).collect()
}

/// The one check every table row goes through. Besides the row's expectation it asserts what
/// holds for every accepted command: the version goes up by exactly one, events are numbered
/// on from the case's counter, and `closed_at` is set exactly when the case is closed.
fn check(given: Given, act: Act, expect: Expect) {
    let case = given.case();
    let command = act.command(&case);
    let row = format!("{given:?} + {act:?}");
    let result = apply(&case, command, now());
    match (result, expect) {
        (Ok(transition), Expect::Ok(state, owner, events)) => {
            let next = &transition.case;
            assert_eq!(next.state, state, "state after {row}");
            assert_eq!(
                next.owner.as_ref().map(|owner| owner.name.as_str()),
                owner,
                "owner after {row}"
            );
            assert_eq!(event_names(&transition.events), events, "events of {row}");
            assert_eq!(next.version, case.version + 1, "version after {row}");
            assert_eq!(next.updated_at, now(), "updated_at after {row}");
            let seqs: Vec<u32> = transition.events.iter().map(|event| event.seq).collect();
            let expected_seqs: Vec<u32> = (case.next_event_seq..)
                .take(transition.events.len())
                .collect();
            assert_eq!(seqs, expected_seqs, "event seqs of {row}");
            assert_eq!(
                next.next_event_seq,
                case.next_event_seq + transition.events.len() as u32,
                "next_event_seq after {row}"
            );
            for event in &transition.events {
                assert_eq!((event.case, event.at), (CASE, now()), "event of {row}");
            }
            assert_eq!(
                next.closed_at.is_some(),
                next.state.is_closed(),
                "closed_at after {row}: {:?}",
                next.closed_at
            );
        }
        (Err(refusal), Expect::Refused(expected)) => {
            assert_eq!(refusal, expected, "refusal of {row}");
        }
        (Ok(transition), Expect::Refused(expected)) => panic!(
            "{row}: expected {expected:?}, accepted: {:?} {:?}",
            transition.case.state,
            event_names(&transition.events)
        ),
        (Err(refusal), Expect::Ok(..)) => panic!("{row}: refused with {refusal:?}"),
    }
}

#[test]
fn every_state_against_every_command() {
    #[rustfmt::skip]
    let table: Vec<(Given, Act, Expect)> = vec![
        // Claim: first click wins; closed cases take no work.
        (given(New), Act::Claim(BEA), ok(Claimed, Some(BEA), &["claimed"])),
        (given(New).pending(), Act::Claim(BEA), ok(Claimed, Some(BEA), &["claimed"])),
        (given(Claimed).owned_by(ANA), Act::Claim(BEA), already_claimed(ANA)),
        (given(Claimed).owned_by(ANA), Act::Claim(ANA), already_claimed(ANA)),
        (given(Replied), Act::Claim(BEA), ok(Replied, Some(BEA), &["claimed"])),
        (given(Replied).owned_by(ANA), Act::Claim(BEA), already_claimed(ANA)),
        (given(CustomerReplied), Act::Claim(BEA), ok(CustomerReplied, Some(BEA), &["claimed"])),
        (given(CustomerReplied).owned_by(ANA), Act::Claim(BEA), already_claimed(ANA)),
        (given(Resolved), Act::Claim(BEA), closed(Resolved)),
        (given(Resolved).owned_by(ANA), Act::Claim(BEA), closed(Resolved)),
        (given(Dismissed), Act::Claim(BEA), closed(Dismissed)),
        (given(Dismissed).owned_by(ANA), Act::Claim(BEA), closed(Dismissed)),
        // Unclaim: only the owner, only on an open case; a claimed case goes back to new.
        (given(New), Act::Unclaim(BEA), refused(Refusal::NotClaimed)),
        (given(Claimed).owned_by(ANA), Act::Unclaim(ANA), ok(New, None, &["unclaimed"])),
        (given(Claimed).owned_by(ANA).pending(), Act::Unclaim(ANA), ok(New, None, &["unclaimed"])),
        (given(Claimed).owned_by(ANA), Act::Unclaim(BEA), not_owner(ANA)),
        (given(Replied), Act::Unclaim(BEA), refused(Refusal::NotClaimed)),
        (given(Replied).owned_by(ANA), Act::Unclaim(ANA), ok(Replied, None, &["unclaimed"])),
        (given(CustomerReplied).owned_by(ANA), Act::Unclaim(ANA), ok(CustomerReplied, None, &["unclaimed"])),
        (given(CustomerReplied).owned_by(ANA), Act::Unclaim(BEA), not_owner(ANA)),
        (given(Resolved), Act::Unclaim(BEA), closed(Resolved)),
        (given(Resolved).owned_by(ANA), Act::Unclaim(ANA), closed(Resolved)),
        (given(Dismissed).owned_by(ANA), Act::Unclaim(ANA), closed(Dismissed)),
        // QueueReply (form opened at the current version): replying is owning.
        (given(New), Act::Reply(BEA), ok(Claimed, Some(BEA), &["claimed"])),
        (given(Claimed).owned_by(ANA), Act::Reply(ANA), ok(Claimed, Some(ANA), &[])),
        (given(Claimed).owned_by(ANA), Act::Reply(BEA), ok(Claimed, Some(ANA), &[])),
        (given(Claimed).owned_by(ANA).pending(), Act::Reply(ANA), refused(Refusal::ReplyInFlight)),
        (given(Replied), Act::Reply(BEA), ok(Replied, Some(BEA), &["claimed"])),
        (given(Replied).owned_by(ANA).replied(), Act::Reply(ANA), ok(Replied, Some(ANA), &[])),
        (given(Replied).owned_by(ANA).pending(), Act::Reply(ANA), refused(Refusal::ReplyInFlight)),
        (given(CustomerReplied).owned_by(ANA), Act::Reply(ANA), ok(CustomerReplied, Some(ANA), &[])),
        (given(CustomerReplied).owned_by(ANA).pending(), Act::Reply(ANA), refused(Refusal::ReplyInFlight)),
        (given(Resolved).owned_by(ANA), Act::Reply(ANA), closed(Resolved)),
        (given(Resolved).owned_by(ANA).pending(), Act::Reply(ANA), closed(Resolved)),
        (given(Dismissed), Act::Reply(BEA), closed(Dismissed)),
        // ReplySent: the pending reply was posted; a closed case stays closed.
        (given(New).pending(), Act::Sent, ok(Replied, None, &["reply_sent"])),
        (given(Claimed).owned_by(ANA).pending(), Act::Sent, ok(Replied, Some(ANA), &["reply_sent"])),
        (given(Replied).owned_by(ANA).pending(), Act::Sent, ok(Replied, Some(ANA), &["reply_sent"])),
        (given(CustomerReplied).owned_by(ANA).pending(), Act::Sent, ok(Replied, Some(ANA), &["reply_sent"])),
        (given(Resolved).owned_by(ANA).pending(), Act::Sent, ok(Resolved, Some(ANA), &["reply_sent"])),
        (given(Dismissed).owned_by(ANA).pending(), Act::Sent, ok(Dismissed, Some(ANA), &["reply_sent"])),
        (given(Claimed).owned_by(ANA), Act::Sent, unknown_pending_reply()),
        (given(Claimed).owned_by(ANA).pending(), Act::SentUnknown, unknown_reply()),
        (given(Resolved).owned_by(ANA), Act::Sent, unknown_pending_reply()),
        // ReplyFailed: the state doesn't move; the draft is kept (see below).
        (given(Claimed).owned_by(ANA).pending(), Act::Failed, ok(Claimed, Some(ANA), &["reply_failed"])),
        (given(New).pending(), Act::Failed, ok(New, None, &["reply_failed"])),
        (given(CustomerReplied).owned_by(ANA).pending(), Act::Failed, ok(CustomerReplied, Some(ANA), &["reply_failed"])),
        (given(Resolved).owned_by(ANA).pending(), Act::Failed, ok(Resolved, Some(ANA), &["reply_failed"])),
        (given(Claimed).owned_by(ANA), Act::Failed, unknown_pending_reply()),
        (given(Claimed).owned_by(ANA).pending(), Act::FailedUnknown, unknown_reply()),
        // Escalate: any open case, owned or not; the state doesn't move.
        (given(New), Act::Escalate, ok(New, None, &["escalated"])),
        (given(Claimed).owned_by(ANA), Act::Escalate, ok(Claimed, Some(ANA), &["escalated"])),
        (given(Replied).owned_by(ANA), Act::Escalate, ok(Replied, Some(ANA), &["escalated"])),
        (given(CustomerReplied).owned_by(ANA), Act::Escalate, ok(CustomerReplied, Some(ANA), &["escalated"])),
        (given(Resolved).owned_by(ANA), Act::Escalate, closed(Resolved)),
        (given(Dismissed), Act::Escalate, closed(Dismissed)),
        // Resolve: any open case; the owner stays for a later reopen.
        (given(New), Act::Resolve, ok(Resolved, None, &["resolved"])),
        (given(Claimed).owned_by(ANA), Act::Resolve, ok(Resolved, Some(ANA), &["resolved"])),
        (given(Claimed).owned_by(ANA).pending(), Act::Resolve, ok(Resolved, Some(ANA), &["resolved"])),
        (given(Replied).owned_by(ANA), Act::Resolve, ok(Resolved, Some(ANA), &["resolved"])),
        (given(CustomerReplied), Act::Resolve, ok(Resolved, None, &["resolved"])),
        (given(Resolved), Act::Resolve, refused(Refusal::AlreadyInState { state: Resolved })),
        (given(Dismissed).owned_by(ANA), Act::Resolve, closed(Dismissed)),
        // Dismiss: the mirror of resolve.
        (given(New), Act::Dismiss, ok(Dismissed, None, &["dismissed"])),
        (given(Claimed).owned_by(ANA), Act::Dismiss, ok(Dismissed, Some(ANA), &["dismissed"])),
        (given(Replied).owned_by(ANA), Act::Dismiss, ok(Dismissed, Some(ANA), &["dismissed"])),
        (given(CustomerReplied).owned_by(ANA), Act::Dismiss, ok(Dismissed, Some(ANA), &["dismissed"])),
        (given(Dismissed), Act::Dismiss, refused(Refusal::AlreadyInState { state: Dismissed })),
        (given(Resolved).owned_by(ANA), Act::Dismiss, closed(Resolved)),
        // Reopen: only closed cases; back to where the owner and replies say.
        (given(New), Act::Reopen, refused(Refusal::NotClosed)),
        (given(Claimed).owned_by(ANA), Act::Reopen, refused(Refusal::NotClosed)),
        (given(Replied).owned_by(ANA), Act::Reopen, refused(Refusal::NotClosed)),
        (given(CustomerReplied).owned_by(ANA), Act::Reopen, refused(Refusal::NotClosed)),
        (given(Resolved), Act::Reopen, ok(New, None, &["reopened"])),
        (given(Resolved).replied(), Act::Reopen, ok(New, None, &["reopened"])),
        (given(Resolved).owned_by(ANA), Act::Reopen, ok(Claimed, Some(ANA), &["reopened"])),
        (given(Resolved).owned_by(ANA).replied(), Act::Reopen, ok(CustomerReplied, Some(ANA), &["reopened"])),
        (given(Dismissed), Act::Reopen, ok(New, None, &["reopened"])),
        (given(Dismissed).owned_by(ANA), Act::Reopen, ok(Claimed, Some(ANA), &["reopened"])),
        // FollowUp: joins the case; after our reply it's the owner's turn; after resolve it
        // reopens the case; a dismissed case stays dismissed.
        (given(New), Act::FollowUp, ok(New, None, &["follow_up"])),
        (given(Claimed).owned_by(ANA), Act::FollowUp, ok(Claimed, Some(ANA), &["follow_up"])),
        (given(Replied).owned_by(ANA).replied(), Act::FollowUp, ok(CustomerReplied, Some(ANA), &["follow_up"])),
        (given(Replied), Act::FollowUpByOther, ok(CustomerReplied, None, &["follow_up"])),
        (given(CustomerReplied).owned_by(ANA), Act::FollowUp, ok(CustomerReplied, Some(ANA), &["follow_up"])),
        (given(Resolved).owned_by(ANA).replied(), Act::FollowUp, ok(CustomerReplied, Some(ANA), &["follow_up", "reopened"])),
        (given(Resolved), Act::FollowUp, ok(CustomerReplied, None, &["follow_up", "reopened"])),
        (given(Dismissed), Act::FollowUp, ok(Dismissed, None, &["follow_up"])),
        // RepliedOutside: the brand answered without the bot; closed cases stay closed.
        (given(New), Act::RepliedOutside, ok(Replied, None, &["replied_outside"])),
        (given(Claimed).owned_by(ANA), Act::RepliedOutside, ok(Replied, Some(ANA), &["replied_outside"])),
        (given(Claimed).owned_by(ANA).pending(), Act::RepliedOutside, ok(Replied, Some(ANA), &["replied_outside"])),
        (given(Replied).owned_by(ANA), Act::RepliedOutside, ok(Replied, Some(ANA), &["replied_outside"])),
        (given(CustomerReplied).owned_by(ANA), Act::RepliedOutside, ok(Replied, Some(ANA), &["replied_outside"])),
        (given(Resolved), Act::RepliedOutside, ok(Resolved, None, &["replied_outside"])),
        (given(Dismissed), Act::RepliedOutside, ok(Dismissed, None, &["replied_outside"])),
    ];
    for (given, act, expect) in table {
        check(given, act, expect);
    }
}

#[test]
fn opening_a_case_is_version_one_with_one_event() {
    let transition = Case::open(
        CASE,
        post("p1", customer(), "my order never arrived"),
        triage(),
        opened_at(),
    );
    let case = &transition.case;
    assert_eq!((case.version, case.next_event_seq), (1, 1));
    assert_eq!((case.state, case.owner.as_ref()), (New, None));
    assert_eq!(
        case.latest_customer_post,
        PostRef::new(Network::Bluesky, "p1")
    );
    assert_eq!(
        case.conversation_root,
        PostRef::new(Network::Bluesky, "root-post")
    );
    assert_eq!(
        transition.events,
        vec![CaseEvent {
            case: CASE,
            seq: 0,
            at: opened_at(),
            kind: EventKind::Opened {
                author_handle: "jo.bsky.social".to_string(),
                url: "https://bsky.app/post/p1".to_string(),
                label: Label::Complaint,
                score: 0.91,
            },
        }]
    );
    assert_eq!(transition.events, [CaseEvent::opening_of(case)]);
}

#[test]
fn claim_is_first_click_wins() {
    let case = fresh_case();
    let by_ana = accept(&case, Command::Claim { by: agent(ANA) });
    assert_eq!(by_ana.case.owner, Some(agent(ANA)));
    assert_eq!(by_ana.events[0].kind, EventKind::Claimed { by: agent(ANA) });
    let refusal = refuse(&by_ana.case, Command::Claim { by: agent(BEA) });
    assert_eq!(refusal, Refusal::AlreadyClaimed { owner: agent(ANA) });
    assert_eq!(refusal.to_string(), "already claimed by ana");
}

#[test]
fn only_the_owner_can_unclaim() {
    let claimed = accept(&fresh_case(), Command::Claim { by: agent(ANA) }).case;
    let refusal = refuse(&claimed, Command::Unclaim { by: agent(BEA) });
    assert_eq!(refusal, Refusal::NotOwner { owner: agent(ANA) });
    assert_eq!(refusal.to_string(), "only ana can unclaim this case");
    // The owner is recognized by id, not by display name.
    let renamed = Agent::new(agent(ANA).id, "Ana Lopez");
    let unclaimed = accept(&claimed, Command::Unclaim { by: renamed });
    assert_eq!((unclaimed.case.state, unclaimed.case.owner), (New, None));
}

#[test]
fn queue_reply_auto_claims_and_records_the_pending_reply() {
    let case = fresh_case();
    let transition = accept(&case, queue_reply(BEA, case.version));
    let next = &transition.case;
    assert_eq!(
        (next.state, next.owner.clone()),
        (Claimed, Some(agent(BEA)))
    );
    assert_eq!(
        transition
            .events
            .iter()
            .map(|e| &e.kind)
            .collect::<Vec<_>>(),
        vec![&EventKind::Claimed { by: agent(BEA) }]
    );
    assert_eq!(
        next.pending_reply,
        Some(PendingReply {
            reply_id: "c7-v1".to_string(),
            by: agent(BEA),
            text: "@jo.bsky.social sorry, we're looking into it ^A".to_string(),
            in_reply_to: PostRef::new(Network::Bluesky, "p1"),
            root: PostRef::new(Network::Bluesky, "root-post"),
            queued_at: now(),
            approved_by: None,
        })
    );
    assert_eq!(next.reply_guard, next.version);
    // The id depends only on the case, so a retried submit of the same form gets the same id.
    let again = accept(&case, queue_reply(BEA, case.version));
    assert_eq!(again.case.pending_reply, next.pending_reply);
    assert_eq!(case.next_reply_id(), "c7-v1");
}

#[test]
fn a_reply_form_opened_before_another_reply_is_stale() {
    let case = fresh_case();
    // Ana and Bea both open the reply form on the card at version 1.
    let form_version = case.version;
    let queued = accept(&case, queue_reply(ANA, form_version)).case;
    let sent = accept(&queued, reply_sent("c7-v1")).case;
    assert_eq!(
        refuse(&sent, queue_reply(BEA, form_version)),
        Refusal::StaleReply
    );
    // A form opened after Ana's reply is fine.
    let again = accept(&sent, queue_reply(BEA, sent.version));
    assert_eq!(again.case.pending_reply.unwrap().reply_id, "c7-v3");
}

#[test]
fn a_reply_form_opened_before_a_reply_outside_is_stale() {
    let claimed = accept(&fresh_case(), Command::Claim { by: agent(ANA) }).case;
    let form_version = claimed.version;
    let answered = accept(&claimed, replied_outside()).case;
    assert_eq!(answered.reply_guard, answered.version);
    assert_eq!(
        refuse(&answered, queue_reply(ANA, form_version)),
        Refusal::StaleReply
    );
    accept(&answered, queue_reply(ANA, answered.version));
}

#[test]
fn reply_outcomes_for_an_unknown_reply_are_refused_and_keep_the_pending_reply() {
    let pending = given(Claimed).owned_by(ANA).pending().case();
    for command in [reply_sent("c7-v1"), reply_failed("c7-v1")] {
        assert_eq!(
            refuse(&pending, command),
            Refusal::UnknownReply {
                reply_id: "c7-v1".to_string()
            }
        );
    }
    // A replayed outcome after the reply was already settled is refused too.
    let sent = accept(&pending, reply_sent(PENDING_ID)).case;
    assert_eq!(sent.pending_reply, None);
    for command in [reply_sent(PENDING_ID), reply_failed(PENDING_ID)] {
        assert_eq!(
            refuse(&sent, command),
            Refusal::UnknownReply {
                reply_id: PENDING_ID.to_string()
            }
        );
    }
}

#[test]
fn reply_sent_records_the_reply_and_the_first_response() {
    let case = fresh_case();
    let queued = accept(&case, queue_reply(ANA, case.version)).case;
    let transition = accept(&queued, reply_sent("c7-v1"));
    let sent = &transition.case;
    assert_eq!(sent.state, Replied);
    assert_eq!(sent.pending_reply, None);
    assert_eq!(sent.first_response_at, Some(now()));
    assert_eq!(
        sent.replies,
        vec![SentReply {
            reply_id: "c7-v1".to_string(),
            by: agent(ANA),
            text: "@jo.bsky.social sorry, we're looking into it ^A".to_string(),
            post_id: "our-post-1".to_string(),
            url: Some("https://bsky.app/post/our-post-1".to_string()),
            at: now(),
        }]
    );
    assert_eq!(
        transition.events[0].kind,
        EventKind::ReplySent {
            by: agent(ANA),
            text: "@jo.bsky.social sorry, we're looking into it ^A".to_string(),
            post_id: "our-post-1".to_string(),
            url: Some("https://bsky.app/post/our-post-1".to_string()),
        }
    );
    // A later reply doesn't move the first response.
    let mut later = given(CustomerReplied)
        .owned_by(ANA)
        .pending()
        .replied()
        .case();
    later.first_response_at = Some(opened_at());
    let second = accept(&later, reply_sent(PENDING_ID)).case;
    assert_eq!(second.first_response_at, Some(opened_at()));
    assert_eq!(second.replies.len(), 2);
}

#[test]
fn reply_failed_keeps_the_draft_until_the_next_reply() {
    let case = given(Claimed).owned_by(ANA).pending().case();
    let transition = accept(&case, reply_failed(PENDING_ID));
    let failed = &transition.case;
    assert_eq!(
        (failed.state, failed.pending_reply.clone()),
        (Claimed, None)
    );
    assert_eq!(
        failed.draft,
        Some(Draft {
            by: agent(ANA),
            text: "@jo.bsky.social on it".to_string(),
            error: "400 text too long".to_string(),
        })
    );
    assert_eq!(
        transition.events[0].kind,
        EventKind::ReplyFailed {
            by: agent(ANA),
            error: "400 text too long".to_string(),
            text: "@jo.bsky.social on it".to_string(),
        }
    );
    assert!(failed.replies.is_empty());
    assert_eq!(failed.first_response_at, None);
    // The retry, from a form opened on the updated card, clears the draft.
    let retried = accept(failed, queue_reply(ANA, failed.version)).case;
    assert_eq!(retried.draft, None);
    assert_eq!(retried.pending_reply.unwrap().reply_id, "c7-v6");
}

#[test]
fn follow_up_after_a_reply_is_the_owners_turn_again() {
    let replied = given(Replied).owned_by(ANA).replied().case();
    let transition = accept(&replied, follow_up("p2"));
    let next = &transition.case;
    assert_eq!(next.state, CustomerReplied);
    assert_eq!(next.follow_ups, 1);
    assert_eq!(
        next.latest_customer_post,
        PostRef::new(Network::Bluesky, "p2")
    );
    assert_eq!(
        transition.events[0].kind,
        EventKind::FollowUp {
            post_id: "p2".to_string(),
            author_handle: "jo.bsky.social".to_string(),
            text: "still nothing, call me on +44 20 7946 0958".to_string(),
            url: "https://bsky.app/post/p2".to_string(),
        }
    );
    // Someone else's post joins the case, but the reply still answers the customer.
    let by_other = accept(
        next,
        Command::FollowUp {
            mention: post("p3", brand(), "+1"),
        },
    )
    .case;
    assert_eq!(by_other.follow_ups, 2);
    assert_eq!(
        by_other.latest_customer_post,
        PostRef::new(Network::Bluesky, "p2")
    );
}

#[test]
fn follow_up_after_resolve_reopens_in_one_version() {
    let resolved = given(Resolved).owned_by(ANA).replied().case();
    let transition = accept(&resolved, follow_up("p2"));
    assert_eq!(transition.case.version, resolved.version + 1);
    assert_eq!(transition.case.closed_at, None);
    let events: Vec<(u32, &EventKind)> = transition
        .events
        .iter()
        .map(|event| (event.seq, &event.kind))
        .collect();
    assert_eq!(
        events[1],
        (GIVEN_NEXT_SEQ + 1, &EventKind::Reopened { by: None })
    );
    assert_eq!(
        (events[0].0, kind_name(events[0].1)),
        (GIVEN_NEXT_SEQ, "follow_up")
    );
}

#[test]
fn an_escalation_target_is_used_once() {
    let case = fresh_case();
    let escalated = accept(&case, escalate(ANA, "billing")).case;
    assert_eq!(
        escalated.escalations,
        vec![Escalation {
            target: "billing".to_string(),
            label: "Billing".to_string(),
            by: agent(ANA),
            note: "refund over the limit".to_string(),
            at: now(),
        }]
    );
    assert_eq!(
        refuse(&escalated, escalate(BEA, "billing")),
        Refusal::AlreadyEscalated {
            label: "Billing".to_string()
        }
    );
    let twice = accept(&escalated, escalate(BEA, "legal")).case;
    assert_eq!(twice.escalations.len(), 2);
}

#[test]
fn a_whole_story_bumps_versions_by_one_and_numbers_events_without_gaps() {
    let opened = Case::open(
        CASE,
        post("p1", customer(), "my order never arrived"),
        triage(),
        opened_at(),
    );
    let mut case = opened.case;
    let mut log = opened.events;
    let story: Vec<fn(&Case) -> Command> = vec![
        |_| Command::Claim { by: agent(ANA) },
        |case| escalate(ANA, &format!("target-{}", case.version)),
        |case| queue_reply(ANA, case.version),
        |case| reply_failed(&case.pending_reply.as_ref().unwrap().reply_id),
        |case| queue_reply(ANA, case.version),
        |case| reply_sent(&case.pending_reply.as_ref().unwrap().reply_id),
        |_| follow_up("p2"),
        |_| Command::Resolve { by: agent(ANA) },
        |_| follow_up("p3"),
        |_| replied_outside(),
        |_| Command::Unclaim { by: agent(ANA) },
        |_| Command::Dismiss { by: agent(BEA) },
        |_| Command::Reopen { by: agent(BEA) },
    ];
    for (step, make) in story.into_iter().enumerate() {
        let command = make(&case);
        let transition = accept(&case, command);
        assert_eq!(transition.case.version, case.version + 1, "step {step}");
        case = transition.case;
        log.extend(transition.events);
    }
    assert_eq!(case.version, 14);
    let seqs: Vec<u32> = log.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, (0..log.len() as u32).collect::<Vec<_>>());
    assert_eq!(case.next_event_seq, log.len() as u32);
    assert_eq!(
        event_names(&log),
        vec![
            "opened",
            "claimed",
            "escalated",
            "reply_failed",
            "reply_sent",
            "follow_up",
            "resolved",
            "follow_up",
            "reopened",
            "replied_outside",
            "unclaimed",
            "dismissed",
            "reopened",
        ]
    );
    assert_eq!((case.state, case.owner), (New, None));
}

#[test]
fn refusals_change_nothing() {
    let case = given(Claimed).owned_by(ANA).pending().case();
    let snapshot = case.clone();
    for command in [
        Command::Claim { by: agent(BEA) },
        Command::Unclaim { by: agent(BEA) },
        queue_reply(ANA, case.version),
        reply_sent("c7-v99"),
        reply_failed("c7-v99"),
        Command::Reopen { by: agent(ANA) },
    ] {
        refuse(&case, command);
        assert_eq!(case, snapshot);
    }
    // The refused commands used up no version and no event number.
    let transition = accept(&case, Command::Resolve { by: agent(ANA) });
    assert_eq!(transition.case.version, GIVEN_VERSION + 1);
    assert_eq!(transition.events[0].seq, GIVEN_NEXT_SEQ);
}

#[test]
fn the_first_response_clock_warns_once_breaches_once_and_stops_when_answered() {
    let due = opened_at() + Duration::hours(1);
    let mut case = fresh_case();
    assert_eq!(
        refuse(&case, Command::SlaWarning),
        Refusal::SlaStopped,
        "no clock"
    );
    case.first_response_due = Some(due);

    let warned = accept(&case, Command::SlaWarning);
    assert!(
        matches!(warned.events[..], [CaseEvent { kind: EventKind::SlaWarning { due_at, .. }, .. }] if due_at == due)
    );
    assert_eq!(
        refuse(&warned.case, Command::SlaWarning),
        Refusal::SlaAlreadyNoted
    );
    let breached = accept(&warned.case, Command::SlaBreach);
    assert!(breached.case.sla_breached);
    assert_eq!(
        refuse(&breached.case, Command::SlaBreach),
        Refusal::SlaAlreadyNoted
    );
    assert_eq!(
        refuse(&breached.case, Command::SlaWarning),
        Refusal::SlaAlreadyNoted
    );

    let answered = accept(&case, replied_outside()).case;
    assert_eq!(refuse(&answered, Command::SlaWarning), Refusal::SlaStopped);
    let resolved = accept(&case, Command::Resolve { by: agent(ANA) }).case;
    assert_eq!(refuse(&resolved, Command::SlaBreach), Refusal::SlaStopped);
}

#[test]
fn a_follow_up_after_our_answer_waits_for_the_next_one() {
    let case = fresh_case();
    // Before any answer a follow-up is part of the first response's wait.
    let before = accept(&case, follow_up("p2")).case;
    assert_eq!(before.awaiting_reply_since, None);
    let answered = accept(&case, replied_outside()).case;
    let waiting = accept(&answered, follow_up("p3")).case;
    assert_eq!(waiting.awaiting_reply_since, Some(now()));
    // A second follow-up does not restart the wait.
    let later = now() + Duration::minutes(5);
    let mut again = apply(&waiting, follow_up("p4"), later).unwrap().case;
    assert_eq!(again.awaiting_reply_since, Some(now()));

    // The clock (set by [sla]) warns once and breaches once, for its own deadline only.
    let due = now() + Duration::hours(1);
    again.next_response = Some(super::case::ResponseClock {
        started_at: now(),
        warning_at: now() + Duration::minutes(45),
        due_at: due,
        warned: false,
        breached: false,
    });
    let stale = due - Duration::minutes(1);
    assert_eq!(
        refuse(&again, Command::NextResponseWarning { due_at: stale }),
        Refusal::SlaStopped,
        "a deadline of an earlier clock"
    );
    let warned = accept(&again, Command::NextResponseWarning { due_at: due });
    assert_eq!(event_names(&warned.events), ["next_response_warning"]);
    assert_eq!(
        refuse(&warned.case, Command::NextResponseWarning { due_at: due }),
        Refusal::SlaAlreadyNoted
    );
    let breached = accept(&warned.case, Command::NextResponseBreach { due_at: due });
    assert_eq!(event_names(&breached.events), ["next_response_breached"]);
    assert!(breached.case.next_response.is_some_and(|c| c.breached));
    assert_eq!(
        refuse(&breached.case, Command::NextResponseBreach { due_at: due }),
        Refusal::SlaAlreadyNoted
    );

    // An answer stops it, and so does closing the case.
    let replied = accept(&breached.case, replied_outside()).case;
    assert_eq!(
        (replied.awaiting_reply_since, replied.next_response),
        (None, None)
    );
    let resolved = accept(&again, Command::Resolve { by: agent(ANA) }).case;
    assert_eq!(resolved.next_response, None);
    assert_eq!(
        refuse(&resolved, Command::NextResponseBreach { due_at: due }),
        Refusal::SlaStopped
    );
    // Someone else writing in the conversation starts nothing.
    let other = accept(
        &answered,
        Command::FollowUp {
            mention: post("p5", brand(), "hi"),
        },
    )
    .case;
    assert_eq!(other.awaiting_reply_since, None);
}

#[test]
fn hand_off_outcomes_are_recorded_only_for_targets_the_case_went_to() {
    let escalated = accept(&fresh_case(), escalate(ANA, "billing")).case;
    let delivered = accept(
        &escalated,
        Command::EscalationDelivered {
            target: "billing".to_string(),
            label: "Billing".to_string(),
            link: Some("https://tickets.example/T-1".to_string()),
        },
    );
    assert_eq!(event_names(&delivered.events), ["escalation_delivered"]);
    assert_eq!(delivered.case.state, escalated.state, "no state change");
    let refusal = refuse(
        &escalated,
        Command::EscalationFailed {
            target: "legal".to_string(),
            label: "Legal".to_string(),
            error: "x".to_string(),
        },
    );
    assert_eq!(
        refusal,
        Refusal::NotEscalated {
            label: "Legal".to_string()
        }
    );
}

#[test]
fn an_incident_counts_its_members_in_batched_notes_and_keeps_its_state() {
    let members: Vec<super::event::StormMember> = (0..45)
        .map(|n| super::event::StormMember {
            post_id: format!("p{n}"),
            author_handle: format!("user{n}"),
            url: format!("https://bsky.app/post/p{n}"),
        })
        .collect();
    let claimed = accept(&fresh_case(), Command::Claim { by: agent(ANA) }).case;
    let grown = accept(
        &claimed,
        Command::Collapse {
            members: members.clone(),
        },
    );
    assert_eq!(grown.case.similar_posts, 45);
    assert_eq!(event_names(&grown.events), ["collapsed"; 3], "20 + 20 + 5");
    assert!(matches!(
        grown.events.last().map(|e| &e.kind),
        Some(EventKind::Collapsed { total: 46, .. })
    ));
    assert_eq!(grown.case.state, claimed.state);
    assert_eq!(grown.case.owner, claimed.owner);
    assert_eq!(
        grown.case.latest_customer_post,
        claimed.latest_customer_post
    );
    let resolved = accept(&grown.case, Command::Resolve { by: agent(ANA) }).case;
    assert_eq!(
        refuse(&resolved, Command::Collapse { members }),
        Refusal::Closed { state: Resolved }
    );
}

/// Approval mode as a table: a case with or without a waiting draft (by ana), against
/// submit, approve, edit and reject by each person. Each row names what must hold after.
#[test]
fn approval_drafts_wait_for_someone_else_to_approve_edit_or_reject() {
    const CAL: &str = "cal";
    fn submit(by: &str, text: &str) -> Command {
        Command::SubmitDraft {
            by: agent(by),
            text: text.to_string(),
            form_version: GIVEN_VERSION,
        }
    }
    fn approve(by: &str, edited: Option<&str>) -> Command {
        Command::ApproveDraft {
            by: agent(by),
            edited: edited.map(str::to_string),
        }
    }
    fn reject(by: &str, reason: &str) -> Command {
        Command::RejectDraft {
            by: agent(by),
            reason: reason.to_string(),
        }
    }
    /// A claimed case (owner ana), with ana's draft "draft one" waiting when `waiting`.
    fn start(waiting: bool) -> Case {
        let mut case = given(Claimed).owned_by(ANA).case();
        if waiting {
            case = accept(&case, submit(ANA, "@jo draft one")).case;
            case.version = GIVEN_VERSION;
        }
        case
    }
    enum Expect {
        /// Waits as this author's draft with this text; no reply queued.
        Waits(&'static str, &'static str),
        /// Queued as a reply by the author (`cN-vV` of the approval's version) with this text,
        /// approved by the approver.
        Queued(&'static str, &'static str, &'static str),
        /// Sent back: kept as the case's draft with this error.
        Kept(&'static str),
        Refused(Refusal),
    }
    use Expect::*;
    #[rustfmt::skip]
    let table: Vec<(bool, Command, Expect)> = vec![
        (false, submit(ANA, "@jo draft one"), Waits(ANA, "@jo draft one")),
        // The same author revises their own draft; someone else is told whose waits.
        (true, submit(ANA, "@jo draft two"), Waits(ANA, "@jo draft two")),
        (true, submit(BEA, "@jo mine"), Refused(Refusal::DraftPending { author: agent(ANA) })),
        (true, approve(BEA, None), Queued(ANA, "@jo draft one", BEA)),
        (true, approve(BEA, Some("@jo better")), Queued(ANA, "@jo better", BEA)),
        (true, approve(ANA, None), Refused(Refusal::OwnDraft)),
        (true, reject(CAL, " too curt "), Kept("rejected by cal: too curt")),
        (true, reject(CAL, ""), Kept("rejected by cal")),
        (false, approve(BEA, None), Refused(Refusal::NoDraft)),
        (false, reject(BEA, ""), Refused(Refusal::NoDraft)),
    ];
    for (waiting, command, expect) in table {
        let case = start(waiting);
        let row = format!("waiting={waiting} {command:?}");
        match expect {
            Refused(refusal) => assert_eq!(refuse(&case, command), refusal, "{row}"),
            Waits(author, text) => {
                let next = accept(&case, command).case;
                let draft = next.awaiting_approval.as_ref().expect(&row);
                assert_eq!(
                    (draft.by.name.as_str(), draft.text.as_str()),
                    (author, text),
                    "{row}"
                );
                assert!(next.pending_reply.is_none(), "{row}");
                assert_eq!(
                    next.reply_guard, case.reply_guard,
                    "a draft is no answer: {row}"
                );
            }
            Queued(author, text, approver) => {
                let transition = accept(&case, command);
                let pending = transition.case.pending_reply.as_ref().expect(&row);
                assert_eq!(pending.reply_id, format!("c7-v{GIVEN_VERSION}"), "{row}");
                assert_eq!(
                    (pending.by.name.as_str(), pending.text.as_str()),
                    (author, text),
                    "{row}"
                );
                assert_eq!(
                    pending.approved_by.as_ref().map(|a| a.name.as_str()),
                    Some(approver)
                );
                assert!(transition.case.awaiting_approval.is_none(), "{row}");
                assert_eq!(transition.case.reply_guard, GIVEN_VERSION + 1, "{row}");
                assert!(matches!(
                    transition.events.last().map(|e| &e.kind),
                    Some(EventKind::DraftApproved { .. })
                ));
            }
            Kept(error) => {
                let next = accept(&case, command).case;
                assert!(next.awaiting_approval.is_none(), "{row}");
                let draft = next.draft.as_ref().expect(&row);
                assert_eq!(
                    (draft.text.as_str(), draft.error.as_str()),
                    ("@jo draft one", error)
                );
            }
        }
    }
    // A draft on an unclaimed case claims it for its author, like a reply; a draft while a
    // reply is being posted, or from a stale form, is refused like a reply.
    let drafted = accept(&given(New).case(), submit(BEA, "@jo hi")).case;
    assert_eq!((drafted.state, drafted.owner), (Claimed, Some(agent(BEA))));
    assert_eq!(
        refuse(
            &given(Claimed).owned_by(ANA).pending().case(),
            submit(ANA, "@jo hi")
        ),
        Refusal::ReplyInFlight
    );
    let mut answered = start(true);
    answered.reply_guard = GIVEN_VERSION + 1;
    assert_eq!(refuse(&answered, approve(BEA, None)), Refusal::StaleReply);
}
