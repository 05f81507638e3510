//! The single integration-test binary; each module tests one area through the public API.

mod actions;
mod cli;
mod config;
mod crash;
mod escalation;
mod fakes;
mod helpers;
mod ingest;
mod sla;
mod triage;
