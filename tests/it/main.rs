//! The single integration-test binary; each module tests one area through the public API.

mod actions;
mod bluesky;
mod cli;
mod config;
mod crash;
mod discord;
mod escalation;
mod fakes;
mod helpers;
mod ingest;
mod mastodon;
mod sla;
mod slack;
mod torture;
mod triage;
mod x;
