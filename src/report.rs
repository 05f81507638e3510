//! `mentiondesk report`: what the team did with the cases opened in a period.
//!
//! The computation is pure: a [`ReportBuilder`] is fed each case opened in `[from, to)` as a
//! [`CaseSummary`] (the store keeps one per case in its `cases_by_opened` index, so a report
//! reads no cases and no events), or as a case with its events, and gives a
//! [`Report`]; [`table`] and [`csv`] format it. The command does the IO, and while the bot
//! holds the store it asks the bot over `[http].listen` (`GET /report`, loopback only), like
//! `mentiondesk audit`.
//!
//! Definitions (they are also printed under the table):
//! - every figure is about the cases **opened** in the period, with their whole history;
//! - time to claim: opening → the first `Claimed` event;
//! - time to first response: opening → the brand's first public answer (through the bot or
//!   outside it: `Case::first_response_at`);
//! - SLA attainment: of the cases that were answered, or whose deadline passed while they were
//!   open, the share answered by the deadline (`Case::first_response_due`, or opening +
//!   `[sla].first_response` for cases without a clock). Dismissed cases, and cases closed
//!   before their deadline without an answer, owe no response and are left out;
//! - percentiles are nearest-rank: the median of an even count is the lower middle value;
//! - an agent's response time: opening → that agent's first public reply in the case;
//! - fairness: the same figures by the customer's follower count when the case opened (the
//!   bucket "unknown" where the network does not say, e.g. Bluesky).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{reach_bucket, Case, CaseEvent, CaseState, CaseSummary, REACH_BUCKETS};

/// The period and the target a report is computed for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportPeriod {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// When the report is made: an unanswered open case whose deadline is before `now` missed it.
    pub now: DateTime<Utc>,
    /// `[sla].first_response`, for cases that have no clock of their own.
    pub first_response: Duration,
}

/// A report, ready to format or to send as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// `[sla].first_response` in seconds.
    pub sla_first_response_secs: i64,
    /// Cases opened in the period.
    pub cases: u64,
    /// Cases by network and triage label.
    pub volume: Vec<VolumeRow>,
    /// Opening → first claim.
    pub time_to_claim: Timing,
    /// Opening → first public response.
    pub time_to_first_response: Timing,
    /// First-response deadlines met and missed.
    pub sla: Attainment,
    /// Cases resolved now.
    pub resolved: u64,
    /// Cases dismissed (not a complaint) now.
    pub dismissed: u64,
    /// Cases escalated at least once.
    pub escalated: u64,
    /// `resolved / cases`.
    pub resolution_rate: Option<f64>,
    /// `escalated / cases`.
    pub escalation_rate: Option<f64>,
    /// Per agent, by id.
    pub agents: Vec<AgentRow>,
    /// Per escalation target, by id.
    pub escalation_targets: Vec<TargetRow>,
    /// Per follower-count bucket, smallest first, "unknown" last.
    pub fairness: Vec<FairnessRow>,
}

/// Cases of one network and label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRow {
    /// The network (`bluesky`, `mastodon`, `x`).
    pub network: String,
    /// Triage's label.
    pub label: String,
    /// How many.
    pub cases: u64,
}

/// A distribution of durations, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// How many cases have the duration.
    pub count: u64,
    /// Median (nearest rank).
    pub median_secs: Option<i64>,
    /// 90th percentile (nearest rank).
    pub p90_secs: Option<i64>,
}

/// First-response deadlines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attainment {
    /// Answered by the deadline.
    pub met: u64,
    /// Answered late, or still unanswered past it.
    pub missed: u64,
    /// Open, unanswered, deadline still ahead.
    pub pending: u64,
    /// `met / (met + missed)`.
    pub rate: Option<f64>,
}

/// One agent's work on the period's cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRow {
    /// Chat-qualified id.
    pub id: String,
    /// The name last seen.
    pub name: String,
    /// Claims.
    pub claimed: u64,
    /// Public replies sent.
    pub replies: u64,
    /// Opening → the agent's first public reply in a case.
    pub response: Timing,
}

/// One escalation target's hand-offs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    /// The target's id.
    pub target: String,
    /// Its label.
    pub label: String,
    /// Hand-offs.
    pub escalations: u64,
    /// Webhook deliveries that succeeded.
    pub delivered: u64,
    /// Webhook deliveries that failed.
    pub failed: u64,
    /// Opening → hand-off.
    pub time_to_escalation: Timing,
}

/// The figures for customers of one reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessRow {
    /// The follower-count bucket.
    pub bucket: String,
    /// Cases.
    pub cases: u64,
    /// Opening → first public response.
    pub time_to_first_response: Timing,
    /// First-response deadlines.
    pub sla: Attainment,
}

#[derive(Default)]
struct AgentAcc {
    name: String,
    claimed: u64,
    replies: u64,
    response: Vec<i64>,
}

#[derive(Default)]
struct TargetAcc {
    label: String,
    escalations: u64,
    delivered: u64,
    failed: u64,
    waits: Vec<i64>,
}

#[derive(Default)]
struct BucketAcc {
    cases: u64,
    response: Vec<i64>,
    sla: Attainment,
}

/// Accumulates cases into a [`Report`].
pub struct ReportBuilder {
    period: ReportPeriod,
    cases: u64,
    volume: BTreeMap<(String, String), u64>,
    claim: Vec<i64>,
    response: Vec<i64>,
    sla: Attainment,
    resolved: u64,
    dismissed: u64,
    escalated: u64,
    agents: BTreeMap<String, AgentAcc>,
    targets: BTreeMap<String, TargetAcc>,
    buckets: BTreeMap<&'static str, BucketAcc>,
}

/// What a case's first-response deadline came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Met,
    Missed,
    Pending,
    NotOwed,
}

impl ReportBuilder {
    /// An empty report for `period`.
    pub fn new(period: ReportPeriod) -> ReportBuilder {
        ReportBuilder {
            period,
            cases: 0,
            volume: BTreeMap::new(),
            claim: Vec::new(),
            response: Vec::new(),
            sla: Attainment::default(),
            resolved: 0,
            dismissed: 0,
            escalated: 0,
            agents: BTreeMap::new(),
            targets: BTreeMap::new(),
            buckets: BTreeMap::new(),
        }
    }

    /// Adds one case and its events (in order). Cases opened outside the period are ignored.
    /// The same as [`ReportBuilder::add_summary`] of the case's summary.
    pub fn add(&mut self, case: &Case, events: &[CaseEvent]) {
        self.add_summary(&CaseSummary::of(case, events));
    }

    /// Adds one case as the store's `cases_by_opened` index keeps it. Cases opened outside
    /// the period are ignored.
    pub fn add_summary(&mut self, case: &CaseSummary) {
        if case.opened_at < self.period.from || case.opened_at >= self.period.to {
            return;
        }
        self.cases += 1;
        *self
            .volume
            .entry((
                case.network.as_str().to_string(),
                case.label.as_str().to_string(),
            ))
            .or_default() += 1;
        let since_opening = |at: DateTime<Utc>| (at - case.opened_at).num_seconds().max(0);

        for claim in &case.claims {
            let agent = self.agents.entry(claim.agent.clone()).or_default();
            agent.name.clone_from(&claim.name);
            agent.claimed += 1;
        }
        if let Some(claim) = case.claims.first() {
            self.claim.push(since_opening(claim.at));
        }
        for delivery in &case.deliveries {
            let acc = self.targets.entry(delivery.target.clone()).or_default();
            acc.label.clone_from(&delivery.label);
            if delivery.delivered {
                acc.delivered += 1;
            } else {
                acc.failed += 1;
            }
        }

        let mut answered_by: Vec<&str> = Vec::new();
        for reply in &case.replies {
            let agent = self.agents.entry(reply.agent.clone()).or_default();
            agent.name.clone_from(&reply.name);
            agent.replies += 1;
            if !answered_by.contains(&reply.agent.as_str()) {
                answered_by.push(&reply.agent);
                agent.response.push(since_opening(reply.at));
            }
        }

        for escalation in &case.escalations {
            let acc = self.targets.entry(escalation.target.clone()).or_default();
            acc.label.clone_from(&escalation.label);
            acc.escalations += 1;
            acc.waits.push(since_opening(escalation.at));
        }
        if !case.escalations.is_empty() {
            self.escalated += 1;
        }
        match case.state {
            CaseState::Resolved => self.resolved += 1,
            CaseState::Dismissed => self.dismissed += 1,
            _ => {}
        }

        let response = case.first_response_at.map(since_opening);
        let deadline = self.deadline(case);
        let bucket = self
            .buckets
            .entry(reach_bucket(case.followers))
            .or_default();
        bucket.cases += 1;
        if let Some(seconds) = response {
            self.response.push(seconds);
            bucket.response.push(seconds);
        }
        count(&mut self.sla, deadline);
        count(&mut bucket.sla, deadline);
    }

    fn deadline(&self, case: &CaseSummary) -> Deadline {
        let due = case
            .first_response_due
            .unwrap_or(case.opened_at + self.period.first_response);
        match case.first_response_at {
            Some(at) if at <= due => Deadline::Met,
            Some(_) => Deadline::Missed,
            None if case.state == CaseState::Dismissed => Deadline::NotOwed,
            None if case.state.is_closed() => match case.closed_at {
                Some(closed) if closed <= due => Deadline::NotOwed,
                _ => Deadline::Missed,
            },
            None if self.period.now >= due => Deadline::Missed,
            None => Deadline::Pending,
        }
    }

    /// The report.
    pub fn finish(self) -> Report {
        let cases = self.cases;
        let rate = |part: u64| (cases > 0).then(|| part as f64 / cases as f64);
        let mut buckets = self.buckets;
        let fairness = REACH_BUCKETS
            .iter()
            .filter_map(|name| {
                let acc = buckets.remove(name)?;
                Some(FairnessRow {
                    bucket: name.to_string(),
                    cases: acc.cases,
                    time_to_first_response: timing(acc.response),
                    sla: with_rate(acc.sla),
                })
            })
            .collect();
        Report {
            from: self.period.from,
            to: self.period.to,
            generated_at: self.period.now,
            sla_first_response_secs: self.period.first_response.num_seconds(),
            cases,
            volume: self
                .volume
                .into_iter()
                .map(|((network, label), cases)| VolumeRow {
                    network,
                    label,
                    cases,
                })
                .collect(),
            time_to_claim: timing(self.claim),
            time_to_first_response: timing(self.response),
            sla: with_rate(self.sla),
            resolved: self.resolved,
            dismissed: self.dismissed,
            escalated: self.escalated,
            resolution_rate: rate(self.resolved),
            escalation_rate: rate(self.escalated),
            agents: self
                .agents
                .into_iter()
                .map(|(id, acc)| AgentRow {
                    id,
                    name: acc.name,
                    claimed: acc.claimed,
                    replies: acc.replies,
                    response: timing(acc.response),
                })
                .collect(),
            escalation_targets: self
                .targets
                .into_iter()
                .map(|(target, acc)| TargetRow {
                    target,
                    label: acc.label,
                    escalations: acc.escalations,
                    delivered: acc.delivered,
                    failed: acc.failed,
                    time_to_escalation: timing(acc.waits),
                })
                .collect(),
            fairness,
        }
    }
}

fn count(attainment: &mut Attainment, deadline: Deadline) {
    match deadline {
        Deadline::Met => attainment.met += 1,
        Deadline::Missed => attainment.missed += 1,
        Deadline::Pending => attainment.pending += 1,
        Deadline::NotOwed => {}
    }
}

fn with_rate(mut attainment: Attainment) -> Attainment {
    let decided = attainment.met + attainment.missed;
    attainment.rate = (decided > 0).then(|| attainment.met as f64 / decided as f64);
    attainment
}

/// The nearest-rank percentile `p` (0 < p ≤ 1) of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn timing(mut values: Vec<i64>) -> Timing {
    values.sort_unstable();
    Timing {
        count: values.len() as u64,
        median_secs: percentile(&values, 0.5),
        p90_secs: percentile(&values, 0.9),
    }
}

/// A duration for people: `45s`, `12m 30s`, `3h 05m`, `2d 04h`; `-` for none.
pub fn human(seconds: Option<i64>) -> String {
    let Some(seconds) = seconds else {
        return "-".to_string();
    };
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map(|rate| format!("{:.1}%", rate * 100.0))
        .unwrap_or_else(|| "-".to_string())
}

fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|title| title.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    if rows.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}

/// The report as text for a terminal.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "Cases opened {} – {} UTC: {}\n\n",
        report.from.format("%Y-%m-%d %H:%M"),
        report.to.format("%Y-%m-%d %H:%M"),
        report.cases
    );
    out.push_str("Volume\n");
    let rows: Vec<Vec<String>> = report
        .volume
        .iter()
        .map(|row| {
            vec![
                row.network.clone(),
                row.label.clone(),
                row.cases.to_string(),
            ]
        })
        .collect();
    out.push_str(&aligned(&["network", "label", "cases"], &rows));

    out.push_str("\nResponse\n");
    let timing_row = |name: &str, timing: &Timing| {
        vec![
            name.to_string(),
            timing.count.to_string(),
            human(timing.median_secs),
            human(timing.p90_secs),
        ]
    };
    out.push_str(&aligned(
        &["", "cases", "median", "p90"],
        &[
            timing_row("time to claim", &report.time_to_claim),
            timing_row(
                "time to first public response",
                &report.time_to_first_response,
            ),
        ],
    ));
    out.push_str(&format!(
        "  SLA (first response within {}): {} met, {} missed, {} pending: {}\n",
        human(Some(report.sla_first_response_secs)),
        report.sla.met,
        report.sla.missed,
        report.sla.pending,
        percent(report.sla.rate)
    ));
    out.push_str(&format!(
        "  resolved {} ({}), escalated {} ({}), not a complaint {}\n",
        report.resolved,
        percent(report.resolution_rate),
        report.escalated,
        percent(report.escalation_rate),
        report.dismissed
    ));

    out.push_str("\nAgents\n");
    let rows: Vec<Vec<String>> = report
        .agents
        .iter()
        .map(|agent| {
            vec![
                format!("{} ({})", agent.name, agent.id),
                agent.claimed.to_string(),
                agent.replies.to_string(),
                human(agent.response.median_secs),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &["agent", "claimed", "replies", "median response"],
        &rows,
    ));

    out.push_str("\nEscalation targets\n");
    let rows: Vec<Vec<String>> = report
        .escalation_targets
        .iter()
        .map(|target| {
            vec![
                format!("{} ({})", target.label, target.target),
                target.escalations.to_string(),
                target.delivered.to_string(),
                target.failed.to_string(),
                human(target.time_to_escalation.median_secs),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &[
            "target",
            "escalations",
            "webhook ok",
            "webhook failed",
            "median time to escalate",
        ],
        &rows,
    ));

    out.push_str("\nFairness: first response by the customer's follower count\n");
    let rows: Vec<Vec<String>> = report
        .fairness
        .iter()
        .map(|row| {
            vec![
                row.bucket.clone(),
                row.cases.to_string(),
                human(row.time_to_first_response.median_secs),
                human(row.time_to_first_response.p90_secs),
                percent(row.sla.rate),
            ]
        })
        .collect();
    out.push_str(&aligned(
        &["followers", "cases", "median", "p90", "SLA met"],
        &rows,
    ));
    out.push_str(
        "\nPercentiles are nearest-rank. SLA: cases answered, or unanswered past their deadline; dismissed cases and cases closed in time without an answer are left out.\n",
    );
    out
}

/// The report as CSV: one figure a line, `section,key,metric,value` (durations in seconds,
/// rates as fractions, empty when undefined).
pub fn csv(report: &Report) -> String {
    let mut rows = CsvRows(String::from("section,key,metric,value\n"));
    rows.push("period", "", "from", report.from.to_rfc3339());
    rows.push("period", "", "to", report.to.to_rfc3339());
    rows.push("period", "", "cases", report.cases);
    for row in &report.volume {
        let key = format!("{}/{}", row.network, row.label);
        rows.push("volume", &key, "cases", row.cases);
    }
    rows.timing("time_to_claim", "", &report.time_to_claim);
    rows.timing("time_to_first_response", "", &report.time_to_first_response);
    rows.attainment("sla", "", &report.sla);
    rows.push("outcome", "", "resolved", report.resolved);
    rows.push("outcome", "", "dismissed", report.dismissed);
    rows.push("outcome", "", "escalated", report.escalated);
    rows.push(
        "outcome",
        "",
        "resolution_rate",
        ratio(report.resolution_rate),
    );
    rows.push(
        "outcome",
        "",
        "escalation_rate",
        ratio(report.escalation_rate),
    );
    for agent in &report.agents {
        rows.push("agent", &agent.id, "name", &agent.name);
        rows.push("agent", &agent.id, "claimed", agent.claimed);
        rows.push("agent", &agent.id, "replies", agent.replies);
        rows.timing("agent_response", &agent.id, &agent.response);
    }
    for target in &report.escalation_targets {
        rows.push("target", &target.target, "label", &target.label);
        rows.push("target", &target.target, "escalations", target.escalations);
        rows.push("target", &target.target, "delivered", target.delivered);
        rows.push("target", &target.target, "failed", target.failed);
        rows.timing(
            "time_to_escalation",
            &target.target,
            &target.time_to_escalation,
        );
    }
    for row in &report.fairness {
        rows.push("fairness", &row.bucket, "cases", row.cases);
        rows.timing(
            "fairness_first_response",
            &row.bucket,
            &row.time_to_first_response,
        );
        rows.attainment("fairness_sla", &row.bucket, &row.sla);
    }
    rows.0
}

fn ratio(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.4}")).unwrap_or_default()
}

struct CsvRows(String);

impl CsvRows {
    fn push(&mut self, section: &str, key: &str, metric: &str, value: impl std::fmt::Display) {
        let fields = [section, key, metric, &value.to_string()].map(csv_field);
        self.0.push_str(&fields.join(","));
        self.0.push('\n');
    }

    fn timing(&mut self, section: &str, key: &str, timing: &Timing) {
        let opt = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
        self.push(section, key, "count", timing.count);
        self.push(section, key, "median_secs", opt(timing.median_secs));
        self.push(section, key, "p90_secs", opt(timing.p90_secs));
    }

    fn attainment(&mut self, section: &str, key: &str, sla: &Attainment) {
        self.push(section, key, "met", sla.met);
        self.push(section, key, "missed", sla.missed);
        self.push(section, key, "pending", sla.pending);
        self.push(section, key, "rate", ratio(sla.rate));
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The report over the cases opened in `[since, now)`: one range scan of the store's
/// `cases_by_opened` index, whose values are the cases' summaries (no case or event reads).
pub fn from_store(
    store: &crate::store::Store,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    first_response: Duration,
) -> Result<Report, crate::store::StoreError> {
    let mut builder = ReportBuilder::new(ReportPeriod {
        from: since,
        to: now,
        now,
        first_response,
    });
    for summary in store.case_summaries(since, now) {
        builder.add_summary(&summary?);
    }
    Ok(builder.finish())
}

/// Asks a running mentiondesk on `listen` (`[http].listen`) for the report (`GET /report`).
pub async fn fetch_remote(listen: SocketAddr, since: &str) -> anyhow::Result<Report> {
    let url = format!("{}/report", crate::audit::loopback_base(listen));
    let response = reqwest::Client::new()
        .get(&url)
        .query(&[("since", since)])
        .timeout(std::time::Duration::from_secs(60))
        .send()
        .await
        .map_err(|error| {
            anyhow::anyhow!("cannot reach the running mentiondesk at {url}: {error}")
        })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("the running mentiondesk answered {status} at {url}: {body}");
    }
    Ok(response.json().await?)
}

#[doc(hidden)]
pub mod seed;

#[cfg(test)]
mod tests;
