//! Property tests of the case state machine: random sequences of commands from random agents
//! (claims, replies and their outcomes, escalations and theirs, closes, reopens, follow-ups,
//! answers from outside, SLA notes) never break the invariants below. A refused command leaves
//! the case as it was (the caller stores nothing), so only accepted transitions are chained.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::case::{apply, Agent, Case, CaseId, CaseState, Command, Label, Triage};
use super::event::CaseEvent;
use super::mention::{Author, Mention, MentionKind, Network};

const AGENTS: [&str; 3] = ["ana", "bo", "cy"];
const TARGETS: [&str; 2] = ["billing", "tier2"];

/// A command before it meets the case: which agent, which target, whether a reply outcome
/// names the pending reply or a stale one.
#[derive(Debug, Clone)]
enum Op {
    Claim(usize),
    Unclaim(usize),
    QueueReply { agent: usize, stale_form: bool },
    ReplySent { pending: bool },
    ReplyFailed { pending: bool },
    Escalate { agent: usize, target: usize },
    EscalationDelivered { target: usize },
    EscalationFailed { target: usize },
    Resolve(usize),
    Dismiss(usize),
    Reopen(usize),
    FollowUp { by_customer: bool },
    RepliedOutside,
    SlaWarning,
    SlaBreach,
    NextWarning,
    NextBreach,
}

fn op() -> impl Strategy<Value = Op> {
    let agent = 0..AGENTS.len();
    let target = 0..TARGETS.len();
    prop_oneof![
        agent.clone().prop_map(Op::Claim),
        agent.clone().prop_map(Op::Unclaim),
        (agent.clone(), any::<bool>())
            .prop_map(|(agent, stale_form)| Op::QueueReply { agent, stale_form }),
        any::<bool>().prop_map(|pending| Op::ReplySent { pending }),
        any::<bool>().prop_map(|pending| Op::ReplyFailed { pending }),
        (agent.clone(), target.clone()).prop_map(|(agent, target)| Op::Escalate { agent, target }),
        target
            .clone()
            .prop_map(|target| Op::EscalationDelivered { target }),
        target.prop_map(|target| Op::EscalationFailed { target }),
        agent.clone().prop_map(Op::Resolve),
        agent.clone().prop_map(Op::Dismiss),
        agent.prop_map(Op::Reopen),
        any::<bool>().prop_map(|by_customer| Op::FollowUp { by_customer }),
        Just(Op::RepliedOutside),
        Just(Op::SlaWarning),
        Just(Op::SlaBreach),
        Just(Op::NextWarning),
        Just(Op::NextBreach),
    ]
}

fn agent(index: usize) -> Agent {
    Agent::new(format!("console:{}", AGENTS[index]), AGENTS[index])
}

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

fn mention(id: &str, author: &str) -> Mention {
    Mention {
        network: Network::Mastodon,
        source: "masto".to_string(),
        id: id.to_string(),
        url: format!("https://mastodon.example/@{author}/{id}"),
        author: Author {
            id: author.to_string(),
            handle: format!("{author}@mastodon.example"),
            display_name: None,
            followers: None,
        },
        text: "still waiting for my refund".to_string(),
        created_at: at(0),
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: None,
        from_brand: false,
        raw: None,
    }
}

/// The command `op` stands for on `case`, the `step`th of the run.
fn command(case: &Case, op: &Op, step: usize) -> Command {
    let pending_id = |pending: bool| match (&case.pending_reply, pending) {
        (Some(reply), true) => reply.reply_id.clone(),
        _ => format!("c{}-v{}", case.id.0, case.version + 100),
    };
    let label = |target: usize| TARGETS[target].to_uppercase();
    match op.clone() {
        Op::Claim(who) => Command::Claim { by: agent(who) },
        Op::Unclaim(who) => Command::Unclaim { by: agent(who) },
        Op::QueueReply {
            agent: who,
            stale_form,
        } => Command::QueueReply {
            by: agent(who),
            text: format!("sorry! #{step}"),
            form_version: if stale_form {
                case.reply_guard.saturating_sub(1)
            } else {
                case.version
            },
        },
        Op::ReplySent { pending } => Command::ReplySent {
            reply_id: pending_id(pending),
            post_id: format!("ours-{step}"),
            url: None,
        },
        Op::ReplyFailed { pending } => Command::ReplyFailed {
            reply_id: pending_id(pending),
            error: "HTTP 422".to_string(),
        },
        Op::Escalate { agent: who, target } => Command::Escalate {
            by: agent(who),
            target: TARGETS[target].to_string(),
            label: label(target),
            note: String::new(),
        },
        Op::EscalationDelivered { target } => Command::EscalationDelivered {
            target: TARGETS[target].to_string(),
            label: label(target),
            link: None,
        },
        Op::EscalationFailed { target } => Command::EscalationFailed {
            target: TARGETS[target].to_string(),
            label: label(target),
            error: "HTTP 500".to_string(),
        },
        Op::Resolve(who) => Command::Resolve { by: agent(who) },
        Op::Dismiss(who) => Command::Dismiss { by: agent(who) },
        Op::Reopen(who) => Command::Reopen { by: agent(who) },
        Op::FollowUp { by_customer } => Command::FollowUp {
            mention: mention(
                &format!("post-{step}"),
                if by_customer { "jo" } else { "kim" },
            ),
        },
        Op::RepliedOutside => Command::RepliedOutside {
            mention: Mention {
                from_brand: true,
                ..mention(&format!("brand-{step}"), "acme")
            },
        },
        Op::SlaWarning => Command::SlaWarning,
        Op::SlaBreach => Command::SlaBreach,
        Op::NextWarning => Command::NextResponseWarning {
            due_at: next_due(case),
        },
        Op::NextBreach => Command::NextResponseBreach {
            due_at: next_due(case),
        },
    }
}

/// The running next-response deadline, or one no clock has.
fn next_due(case: &Case) -> DateTime<Utc> {
    case.next_response
        .map(|clock| clock.due_at)
        .unwrap_or_else(|| at(999))
}

/// Commands a closed case may still accept: opening it again, news from the network, and the
/// outcomes of work queued before it was closed.
fn accepted_when_closed(command: &Command) -> bool {
    matches!(
        command,
        Command::Reopen { .. }
            | Command::FollowUp { .. }
            | Command::RepliedOutside { .. }
            | Command::ReplySent { .. }
            | Command::ReplyFailed { .. }
            | Command::EscalationDelivered { .. }
            | Command::EscalationFailed { .. }
    )
}

/// What must hold of every case the state machine can reach.
fn check_case(case: &Case) -> Result<(), TestCaseError> {
    match case.state {
        CaseState::New => prop_assert!(case.owner.is_none(), "new with an owner"),
        CaseState::Claimed => prop_assert!(case.owner.is_some(), "claimed without an owner"),
        // Replied and customer-replied cases may be unowned: the brand answered outside the
        // bot, or the owner gave the case back after answering. Closed cases keep whatever
        // owner they had.
        _ => {}
    }
    prop_assert_eq!(case.closed_at.is_some(), case.state.is_closed());
    // The next-response clock runs only while a follow-up waits for our answer, after we
    // answered at least once, and never on a closed case.
    if case.next_response.is_some() {
        prop_assert!(
            case.awaiting_reply_since.is_some(),
            "a clock with nobody waiting"
        );
    }
    if case.awaiting_reply_since.is_some() {
        prop_assert!(
            case.first_response_at.is_some(),
            "waiting for a next answer before a first"
        );
        prop_assert!(!case.state.is_closed(), "a closed case waits for an answer");
    }
    if let Some(pending) = &case.pending_reply {
        prop_assert!(
            case.replies
                .iter()
                .all(|sent| sent.reply_id != pending.reply_id),
            "reply {} is both pending and sent",
            pending.reply_id
        );
    }
    let mut ids: Vec<&str> = case.replies.iter().map(|r| r.reply_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    prop_assert_eq!(ids.len(), case.replies.len(), "a reply id was sent twice");
    let mut targets: Vec<&str> = case.escalations.iter().map(|e| e.target.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    prop_assert_eq!(
        targets.len(),
        case.escalations.len(),
        "escalated twice to one target"
    );
    if !case.replies.is_empty() {
        prop_assert!(case.first_response_at.is_some());
    }
    prop_assert!(case.reply_guard <= case.version);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_commands_breaks_the_case_invariants(ops in prop::collection::vec(op(), 0..60)) {
        let opened = Case::open(
            CaseId(7),
            mention("post-0", "jo"),
            Triage { label: Label::Complaint, score: 0.9, reason: "refund".to_string() },
            at(0),
        );
        let mut case = opened.case;
        case.first_response_due = Some(at(60));
        let mut log: Vec<CaseEvent> = opened.events;
        check_case(&case)?;
        for (step, op) in ops.iter().enumerate() {
            let command = command(&case, op, step + 1);
            let now = at(step as i64 + 1);
            match apply(&case, command.clone(), now) {
                Ok(transition) => {
                    let next = transition.case;
                    prop_assert_eq!(next.version, case.version + 1, "{:?}", command);
                    prop_assert_eq!(next.id, case.id);
                    // Queueing a reply records nothing by itself (its outcome does), unless it
                    // claims the case on the way; every other change is in the log.
                    if !matches!(command, Command::QueueReply { .. }) || case.owner.is_none() {
                        prop_assert!(!transition.events.is_empty(), "{:?} recorded nothing", command);
                    }
                    if case.state.is_closed() {
                        prop_assert!(accepted_when_closed(&command), "closed case took {:?}", command);
                        if !matches!(command, Command::Reopen { .. } | Command::FollowUp { .. }) {
                            prop_assert_eq!(next.state, case.state, "{:?} changed a closed case", command);
                        }
                    }
                    prop_assert!(next.replies.len() >= case.replies.len(), "a sent reply disappeared");
                    prop_assert!(next.replies.starts_with(&case.replies));
                    log.extend(transition.events);
                    prop_assert_eq!(next.next_event_seq as usize, log.len());
                    let mut next = next;
                    // What the pipeline does with `[sla]`: start the next-response clock.
                    if next.awaiting_reply_since.is_some() && next.next_response.is_none() {
                        next.next_response = Some(crate::domain::ResponseClock {
                            started_at: now,
                            warning_at: now + chrono::Duration::minutes(3),
                            due_at: now + chrono::Duration::minutes(4),
                            warned: false,
                            breached: false,
                        });
                    }
                    check_case(&next)?;
                    case = next;
                }
                Err(_) => {
                    // `apply` takes the case by reference: nothing to undo. A refused reply
                    // outcome for a stale id must not have been the pending one.
                    if let (Command::ReplySent { reply_id, .. } | Command::ReplyFailed { reply_id, .. }, Some(pending)) = (&command, &case.pending_reply) {
                        prop_assert_ne!(reply_id, &pending.reply_id, "the pending reply's outcome was refused");
                    }
                }
            }
        }
        for (index, event) in log.iter().enumerate() {
            prop_assert_eq!(event.seq as usize, index, "event seqs are consecutive from 0");
            prop_assert_eq!(event.case, case.id);
        }
        // The store derives the opening event from the case (schema 5): no command may
        // change what it is derived from.
        prop_assert_eq!(&CaseEvent::opening_of(&case), &log[0]);
    }
}
