//! mentiondesk: public complaints about a brand become claimable cards in the team's chat.
//!
//! Layout:
//! - [`config`]: the TOML file read into typed settings, with every problem reported at once.

pub mod config;
