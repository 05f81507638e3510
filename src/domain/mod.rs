//! The domain: mentions, cases and their state machine, events, actions and the card model.
//!
//! **Architecture invariant:** nothing here does IO or knows tokio, a chat or a network's JSON.
//! Every rule about what may happen to a case lives here, as pure functions with table tests.

pub mod action;
pub mod audit;
pub mod card;
pub mod case;
#[cfg(test)]
mod case_props;
#[cfg(test)]
mod case_tests;
pub mod event;
pub mod hours;
pub mod kudos;
pub mod mention;
pub mod permission;
pub mod replies;
pub mod skipped;
pub mod summary;
pub mod text;

pub use action::{ActionKind, ActionRequest, ChatAction, Payload, PayloadError};
pub use audit::{AuditAction, AuditRecord};
pub use card::{
    case_card, escalation_card, reply_prefill, state_line_in, Button, ButtonStyle, Card, CardKind,
    CustomerContext, RepeatFlag,
};
pub use case::{
    apply, Agent, Case, CaseId, CaseState, Command, Draft, Escalation, Label, MessageRef,
    PendingReply, Refusal, ResponseClock, SentReply, Transition, Triage,
};
pub use event::{CaseEvent, EventKind, NoteMention, StormMember, ThreadNote};
pub use hours::{
    day_start, deadline, from_timestamp, parse_clock_time, parse_date, parse_weekday, to_timestamp,
    BusinessHours,
};
pub use kudos::{kudos_card, kudos_key, Kudos, Moved};
pub use mention::{
    normalize_handle, reach_bucket, Author, Mention, MentionKind, Network, PostRef, REACH_BUCKETS,
};
pub use permission::{Permission, Permissions, Principal};
pub use replies::{expand, repeat_key, saved_reply_text, Fill, SavedReply};
pub use skipped::SkippedPost;
pub use summary::{CaseSummary, Delivery, Handoff, Touch};
