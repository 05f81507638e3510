//! What a report needs of a case, small enough to keep next to the store's `cases_by_opened`
//! index, so a report over a period is one range scan with no case or event reads.
//!
//! A [`CaseSummary`] is the case's fields a report reads plus the few facts only its events
//! carry (who claimed it and when, the escalation webhooks' outcomes), folded from the events
//! with [`CaseSummary::note`]. The store keeps it up to date as a case and its events are
//! written (`Tx::put_case`, `Tx::append_events`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::case::{Case, CaseState, Label};
use super::event::{CaseEvent, EventKind};
use super::mention::Network;

/// An agent's action at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    /// The agent's chat-qualified id.
    pub agent: String,
    /// The agent's name then.
    pub name: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A hand-off to an escalation target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// The target's id.
    pub target: String,
    /// Its label.
    pub label: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// What an escalation target's webhook did with a hand-off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The target's id.
    pub target: String,
    /// Its label.
    pub label: String,
    /// Delivered (`true`) or failed.
    pub delivered: bool,
}

/// A case as a report sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// The conversation's network.
    pub network: Network,
    /// Triage's label for the opening post.
    pub label: Label,
    /// The state now.
    pub state: CaseState,
    /// When the case opened.
    pub opened_at: DateTime<Utc>,
    /// The customer's follower count when the case opened, if the network says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
    /// The brand's first public answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// The first-response deadline, if the case has a clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_due: Option<DateTime<Utc>>,
    /// When it was last resolved or dismissed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Claims, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Touch>,
    /// Public replies the network accepted, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replies: Vec<Touch>,
    /// Hand-offs, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<Handoff>,
    /// Escalation webhook outcomes, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
}

impl CaseSummary {
    /// The summary of a case with its events (in order; the events give the claims and the
    /// webhook outcomes).
    pub fn of(case: &Case, events: &[CaseEvent]) -> CaseSummary {
        let mut summary = CaseSummary {
            network: case.network,
            label: case.triage.label,
            state: case.state,
            opened_at: case.opened_at,
            followers: case.customer.followers,
            first_response_at: case.first_response_at,
            first_response_due: case.first_response_due,
            closed_at: case.closed_at,
            claims: Vec::new(),
            replies: case
                .replies
                .iter()
                .map(|reply| Touch {
                    agent: reply.by.id.clone(),
                    name: reply.by.name.clone(),
                    at: reply.at,
                })
                .collect(),
            escalations: case
                .escalations
                .iter()
                .map(|escalation| Handoff {
                    target: escalation.target.clone(),
                    label: escalation.label.clone(),
                    at: escalation.at,
                })
                .collect(),
            deliveries: Vec::new(),
        };
        for event in events {
            summary.note(event);
        }
        summary
    }

    /// The summary of a case after a change, keeping what `previous` (the same case's
    /// summary before it) took from the events.
    pub fn updated(case: &Case, previous: Option<CaseSummary>) -> CaseSummary {
        let mut summary = CaseSummary::of(case, &[]);
        if let Some(previous) = previous {
            summary.claims = previous.claims;
            summary.deliveries = previous.deliveries;
        }
        summary
    }

    /// Whether an event changes a summary (the kinds [`CaseSummary::note`] takes).
    pub fn notes(event: &CaseEvent) -> bool {
        matches!(
            event.kind,
            EventKind::Claimed { .. }
                | EventKind::EscalationDelivered { .. }
                | EventKind::EscalationFailed { .. }
        )
    }

    /// Takes note of one event appended to the case (the kinds a report does not need are
    /// ignored).
    pub fn note(&mut self, event: &CaseEvent) {
        match &event.kind {
            EventKind::Claimed { by } => self.claims.push(Touch {
                agent: by.id.clone(),
                name: by.name.clone(),
                at: event.at,
            }),
            EventKind::EscalationDelivered { target, label, .. } => {
                self.deliveries.push(Delivery {
                    target: target.clone(),
                    label: label.clone(),
                    delivered: true,
                });
            }
            EventKind::EscalationFailed { target, label, .. } => self.deliveries.push(Delivery {
                target: target.clone(),
                label: label.clone(),
                delivered: false,
            }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::{
        apply, Agent, Author, CaseId, Command, Mention, MentionKind, Network, Triage,
    };

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn opened() -> Case {
        let mention = Mention {
            network: Network::Mastodon,
            source: "demo".into(),
            id: "p1".into(),
            url: "https://example.social/p1".into(),
            author: Author {
                id: "u1".into(),
                handle: "user1".into(),
                display_name: None,
                followers: Some(120),
            },
            text: "my order never arrived".into(),
            created_at: at(0),
            in_reply_to: None,
            root: None,
            kind: MentionKind::Mention,
            lang: None,
            from_brand: false,
            raw: None,
        };
        let triage = Triage {
            label: Label::Complaint,
            score: 0.9,
            reason: String::new(),
        };
        Case::open(CaseId(1), mention, triage, at(0)).case
    }

    fn touch(agent: &Agent, minutes: i64) -> Touch {
        Touch {
            agent: agent.id.clone(),
            name: agent.name.clone(),
            at: at(minutes),
        }
    }

    fn delivery(target: &str, delivered: bool) -> Delivery {
        Delivery {
            target: target.into(),
            label: target.to_uppercase(),
            delivered,
        }
    }

    /// Commands applied in order (minute, command): the claims and webhook outcomes the
    /// summary takes from the events `apply` returned.
    #[test]
    fn a_summary_takes_claims_and_webhook_outcomes_from_the_events() {
        let (ana, bo) = (
            Agent::new("console:ana", "Ana"),
            Agent::new("console:bo", "Bo"),
        );
        let escalate = |target: &str| Command::Escalate {
            by: ana.clone(),
            target: target.into(),
            label: target.to_uppercase(),
            note: "please look".into(),
        };
        let outcome = |target: &str, delivered: bool| {
            if delivered {
                Command::EscalationDelivered {
                    target: target.into(),
                    label: target.to_uppercase(),
                    link: None,
                }
            } else {
                Command::EscalationFailed {
                    target: target.into(),
                    label: target.to_uppercase(),
                    error: "500".into(),
                }
            }
        };
        type Row<'a> = (&'a str, Vec<(i64, Command)>, Vec<Touch>, Vec<Delivery>);
        let table: Vec<Row> = vec![
            ("opened only", vec![], vec![], vec![]),
            (
                "claim, give back, claim by another",
                vec![
                    (5, Command::Claim { by: ana.clone() }),
                    (6, Command::Unclaim { by: ana.clone() }),
                    (9, Command::Claim { by: bo.clone() }),
                ],
                vec![touch(&ana, 5), touch(&bo, 9)],
                vec![],
            ),
            (
                "a first reply claims",
                vec![(
                    3,
                    Command::QueueReply {
                        by: bo.clone(),
                        text: "sorry".into(),
                        form_version: 1,
                    },
                )],
                vec![touch(&bo, 3)],
                vec![],
            ),
            (
                "webhook failed then delivered; an outcome for another target is refused",
                vec![
                    (2, escalate("billing")),
                    (3, outcome("billing", false)),
                    (4, outcome("billing", true)),
                    (5, outcome("legal", true)),
                ],
                vec![],
                vec![delivery("billing", false), delivery("billing", true)],
            ),
        ];
        for (name, commands, claims, deliveries) in table {
            let mut case = opened();
            let mut events = Vec::new();
            for (minute, command) in commands {
                if let Ok(transition) = apply(&case, command, at(minute)) {
                    case = transition.case;
                    events.extend(transition.events);
                }
            }
            let summary = CaseSummary::of(&case, &events);
            assert_eq!(summary.claims, claims, "{name}");
            assert_eq!(summary.deliveries, deliveries, "{name}");
            // The same, noted one event at a time as the store does, across case writes.
            let mut kept = CaseSummary::of(&opened(), &[]);
            for event in &events {
                let before = kept.clone();
                kept.note(event);
                assert_eq!(CaseSummary::notes(event), kept != before, "{name}");
            }
            assert_eq!(CaseSummary::updated(&case, Some(kept)), summary, "{name}");
        }
    }

    #[test]
    fn a_summary_carries_what_the_report_reads() {
        let ana = Agent::new("console:ana", "Ana");
        let transition = apply(&opened(), Command::Claim { by: ana.clone() }, at(4)).unwrap();
        let mut case = transition.case;
        case.first_response_due = Some(at(60));
        let summary = CaseSummary::of(&case, &transition.events);
        assert_eq!(summary.network, Network::Mastodon);
        assert_eq!(summary.label, Label::Complaint);
        assert_eq!(summary.state, CaseState::Claimed);
        assert_eq!(summary.opened_at, at(0));
        assert_eq!(summary.followers, Some(120));
        assert_eq!(summary.first_response_due, Some(at(60)));
        assert_eq!(summary.claims, vec![touch(&ana, 4)]);
        assert!(summary.replies.is_empty() && summary.escalations.is_empty());
        // It reads back as written (the store keeps it as JSON).
        let json = serde_json::to_vec(&summary).unwrap();
        assert_eq!(
            serde_json::from_slice::<CaseSummary>(&json).unwrap(),
            summary
        );
    }
}
