//! mentiondesk: public complaints about a brand become claimable cards in the team's chat.
//!
//! # Layout
//! - `domain`: mentions, cases, the state machine, events, actions, the card model. Pure.
//! - `store`: the sled database; the only module that touches it.
//! - `chat`: the `ChatAdapter` trait and the adapters (console, later Slack and Discord).

pub mod chat;
pub mod domain;
pub mod store;
