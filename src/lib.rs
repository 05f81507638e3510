//! mentiondesk: public complaints about a brand become claimable cards in the team's chat.
//!
//! # Layout
//! - `domain`: mentions, cases, the state machine, events, actions, the card model. Pure.
//! - `config`: the TOML settings, `${VAR}` interpolation, every problem reported at once.
//! - `store`: the sled database; the only module that touches it.
//! - `sources`: networks (replay, Bluesky) and the shared poll loop.
//! - `pipeline`: dedupe, follow-up linking, triage, case opening; batched transactions.
//! - `training`: `train` and `eval` for triage's learned model (store and files around it).
//! - `actions`: the engine turning clicks into case transitions.
//! - `scheduler`: the first-response clocks (one timer task).
//! - `outbox`: side effects recorded with their state change, executed by one worker per lane.
//! - `chat`: the `ChatAdapter` trait and the adapters (the local web console).
//! - `health`: `/healthz` (and `/audit` for loopback clients).
//! - `audit`: reading the audit log (`mentiondesk audit`).
//! - `report`: `mentiondesk report` (pure figures over cases and events, and their formats).
//! - `metrics`: Prometheus text on `/metrics`.
//! - `digest`: the weekly digest (report figures and a PNG chart) and its timer task.
//! - `app`: builds and runs everything; `shutdown` and `telemetry` support it.
//! - `failpoint`: crash-test hooks, inert unless an environment variable arms one.

pub mod actions;
pub mod app;
pub mod audit;
pub mod chat;
pub mod config;
pub mod digest;
pub mod domain;
pub mod failpoint;
pub mod health;
pub mod metrics;
pub mod outbox;
pub mod pipeline;
pub mod report;
pub mod scheduler;
pub mod shutdown;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod training;

/// The allocator of every program built on this crate (the bot, its benches and tests):
/// mimalloc, which keeps ingest's many small, short-lived allocations (records, JSON,
/// sled's nodes) cheaper than glibc's malloc (BENCHMARKS.md, "Session 8"). Built with
/// `no_thp`: with transparent huge pages its arenas are backed by 2 MiB pages and the idle
/// bot's RSS triples (25 → 75 MB).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
