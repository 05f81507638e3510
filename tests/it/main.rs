//! The single integration-test binary; each module tests one area through the public API.

mod actions;
mod audit;
mod bluesky;
mod cli;
mod config;
mod crash;
mod discord;
mod escalation;
mod fakes;
mod faults;
mod fuzz_regressions;
mod health_notices;
mod helpers;
mod ingest;
mod mastodon;
mod outage;
mod permissions;
mod report;
mod secrets;
mod sla;
mod slack;
mod spike;
mod storm;
mod torture;
mod triage;
mod x;
