//! The report's figures on hand-built cases, against values computed by hand.

use chrono::TimeZone;

use super::seed::{claimed as claim, opened as case, push, replied as reply};
use super::*;
use crate::domain::{Agent, Escalation, EventKind, Label, Network};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap()
}

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

fn period() -> ReportPeriod {
    ReportPeriod {
        from: start(),
        to: start() + Duration::days(7),
        now: start() + Duration::days(7),
        first_response: Duration::hours(1),
    }
}

fn agent(name: &str) -> Agent {
    Agent::new(format!("console:{}", name.to_lowercase()), name)
}

/// Six cases whose figures are worked out by hand in the test below.
fn seeded() -> Vec<(Case, Vec<CaseEvent>)> {
    let (ana, bo) = (agent("Ana"), agent("Bo"));
    let mut cases = Vec::new();

    // A: X complaint, 50 followers; Ana claims at 10 min, answers at 30 min, resolves.
    let (mut a, mut events) = case(
        1,
        Network::X,
        Label::Complaint,
        Some(50),
        start() + minutes(60),
    );
    claim(&mut events, &a, 10, &ana);
    reply(&mut a, 30, &ana);
    a.state = CaseState::Resolved;
    a.closed_at = Some(a.opened_at + minutes(40));
    cases.push((a, events));

    // B: Mastodon complaint, 5,000 followers; Bo claims at 5 min, escalates to billing at
    // 20 min (delivered), answers at 2 h (late), Ana answers too at 3 h; resolved.
    let (mut b, mut events) = case(
        2,
        Network::Mastodon,
        Label::Complaint,
        Some(5000),
        start() + Duration::days(1),
    );
    claim(&mut events, &b, 5, &bo);
    b.escalations.push(Escalation {
        target: "billing".into(),
        label: "Billing".into(),
        by: bo.clone(),
        note: String::new(),
        at: b.opened_at + minutes(20),
    });
    let delivered_at = b.opened_at + minutes(21);
    push(
        &mut events,
        &b,
        delivered_at,
        EventKind::EscalationDelivered {
            target: "billing".into(),
            label: "Billing".into(),
            link: None,
        },
    );
    reply(&mut b, 120, &bo);
    reply(&mut b, 180, &ana);
    b.state = CaseState::Resolved;
    cases.push((b, events));

    // C: Bluesky question (no follower count), opened 30 min before the report: pending.
    let (c, events) = case(
        3,
        Network::Bluesky,
        Label::Question,
        None,
        period().now - minutes(30),
    );
    cases.push((c, events));

    // D: X complaint, 150,000 followers, dismissed without an answer: owes nothing.
    let (mut d, events) = case(
        4,
        Network::X,
        Label::Complaint,
        Some(150_000),
        start() + minutes(5),
    );
    d.state = CaseState::Dismissed;
    d.closed_at = Some(d.opened_at + minutes(2));
    cases.push((d, events));

    // E: X complaint, 20 followers, a clock due at 45 min; Ana claims at 1 h, never answers.
    let (mut e, mut events) = case(
        5,
        Network::X,
        Label::Complaint,
        Some(20),
        start() + Duration::days(2),
    );
    e.first_response_due = Some(e.opened_at + minutes(45));
    e.state = CaseState::Claimed;
    claim(&mut events, &e, 60, &ana);
    cases.push((e, events));

    // F: opened before the period: ignored.
    let (mut f, mut events) = case(
        6,
        Network::X,
        Label::Complaint,
        Some(10),
        start() - minutes(1),
    );
    claim(&mut events, &f, 1, &ana);
    reply(&mut f, 2, &ana);
    cases.push((f, events));
    cases
}

fn report() -> Report {
    let mut builder = ReportBuilder::new(period());
    for (case, events) in seeded() {
        builder.add(&case, &events);
    }
    builder.finish()
}

fn timing(count: u64, median: Option<i64>, p90: Option<i64>) -> Timing {
    Timing {
        count,
        median_secs: median,
        p90_secs: p90,
    }
}

fn attainment(met: u64, missed: u64, pending: u64, rate: Option<f64>) -> Attainment {
    Attainment {
        met,
        missed,
        pending,
        rate,
    }
}

#[test]
fn figures_match_the_hand_computed_ones() {
    let report = report();
    assert_eq!(report.cases, 5);
    let volume: Vec<(&str, &str, u64)> = report
        .volume
        .iter()
        .map(|row| (row.network.as_str(), row.label.as_str(), row.cases))
        .collect();
    assert_eq!(
        volume,
        [
            ("bluesky", "question", 1),
            ("mastodon", "complaint", 1),
            ("x", "complaint", 3)
        ]
    );
    // Claims after 10 min (A), 5 min (B), 60 min (E): sorted 300, 600, 3600 s.
    assert_eq!(report.time_to_claim, timing(3, Some(600), Some(3600)));
    // First responses: A 30 min, B 2 h.
    assert_eq!(
        report.time_to_first_response,
        timing(2, Some(1800), Some(7200))
    );
    // Met: A. Missed: B (late), E (unanswered past its own 45 min clock). Pending: C. D owes none.
    assert_eq!(report.sla, attainment(1, 2, 1, Some(1.0 / 3.0)));
    assert_eq!(
        (report.resolved, report.dismissed, report.escalated),
        (2, 1, 1)
    );
    assert_eq!(report.resolution_rate, Some(0.4));
    assert_eq!(report.escalation_rate, Some(0.2));

    let agents: Vec<(&str, &str, u64, u64, Timing)> = report
        .agents
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.name.as_str(),
                a.claimed,
                a.replies,
                a.response.clone(),
            )
        })
        .collect();
    assert_eq!(
        agents,
        [
            // Ana: claims A and E; replies to A (30 min) and B (3 h).
            (
                "console:ana",
                "Ana",
                2,
                2,
                timing(2, Some(1800), Some(10_800))
            ),
            // Bo: claims B; replies to B (2 h).
            ("console:bo", "Bo", 1, 1, timing(1, Some(7200), Some(7200))),
        ]
    );
    assert_eq!(
        report.escalation_targets,
        [TargetRow {
            target: "billing".into(),
            label: "Billing".into(),
            escalations: 1,
            delivered: 1,
            failed: 0,
            time_to_escalation: timing(1, Some(1200), Some(1200)),
        }]
    );
    let fairness: Vec<(&str, u64, Timing, Attainment)> = report
        .fairness
        .iter()
        .map(|r| {
            (
                r.bucket.as_str(),
                r.cases,
                r.time_to_first_response.clone(),
                r.sla.clone(),
            )
        })
        .collect();
    assert_eq!(
        fairness,
        [
            (
                "<100",
                2,
                timing(1, Some(1800), Some(1800)),
                attainment(1, 1, 0, Some(0.5))
            ),
            (
                "1k-10k",
                1,
                timing(1, Some(7200), Some(7200)),
                attainment(0, 1, 0, Some(0.0))
            ),
            ("100k+", 1, timing(0, None, None), attainment(0, 0, 0, None)),
            (
                "unknown",
                1,
                timing(0, None, None),
                attainment(0, 0, 1, None)
            ),
        ]
    );
}

#[test]
fn percentiles_are_nearest_rank() {
    let table: [(&[i64], Option<i64>, Option<i64>); 5] = [
        (&[], None, None),
        (&[7], Some(7), Some(7)),
        (&[1, 2], Some(1), Some(2)),
        (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], Some(5), Some(9)),
        (&[10, 1, 5], Some(5), Some(10)),
    ];
    for (values, median, p90) in table {
        let timing = timing_of(values);
        assert_eq!(
            (timing.median_secs, timing.p90_secs),
            (median, p90),
            "{values:?}"
        );
    }
}

fn timing_of(values: &[i64]) -> Timing {
    super::timing(values.to_vec())
}

#[test]
fn a_case_closed_in_time_without_an_answer_owes_nothing_but_one_closed_late_missed() {
    let builder = ReportBuilder::new(period());
    let (mut early, _) = case(1, Network::X, Label::Complaint, None, start());
    early.state = CaseState::Resolved;
    early.closed_at = Some(start() + minutes(59));
    assert_eq!(
        builder.deadline(&CaseSummary::of(&early, &[])),
        Deadline::NotOwed
    );
    let mut late = early.clone();
    late.closed_at = Some(start() + minutes(61));
    assert_eq!(
        builder.deadline(&CaseSummary::of(&late, &[])),
        Deadline::Missed
    );
}

#[test]
fn durations_read_well() {
    let table = [
        (None, "-"),
        (Some(0), "0s"),
        (Some(45), "45s"),
        (Some(750), "12m 30s"),
        (Some(3 * 3600 + 300), "3h 05m"),
        (Some(2 * 86_400 + 4 * 3600), "2d 04h"),
    ];
    for (seconds, text) in table {
        assert_eq!(human(seconds), text);
    }
}

#[test]
fn table_and_csv_carry_the_figures() {
    let report = report();
    let text = table(&report);
    for expected in [
        "Cases opened 2026-11-15 00:00 – 2026-11-22 00:00 UTC: 5",
        "time to claim",
        "10m 00s",
        "SLA (first response within 1h 00m): 1 met, 2 missed, 1 pending: 33.3%",
        "resolved 2 (40.0%), escalated 1 (20.0%), not a complaint 1",
        "Ana (console:ana)",
        "Billing (billing)",
        "1k-10k",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    let csv = csv(&report);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "section,key,metric,value");
    for expected in [
        "period,,cases,5",
        "volume,x/complaint,cases,3",
        "time_to_claim,,median_secs,600",
        "sla,,rate,0.3333",
        "agent,console:ana,claimed,2",
        "target,billing,delivered,1",
        "fairness_sla,<100,rate,0.5000",
        "fairness_first_response,100k+,median_secs,",
    ] {
        assert!(lines.contains(&expected), "{expected:?} in\n{csv}");
    }
    assert!(
        lines.iter().all(|line| line.split(',').count() == 4),
        "{csv}"
    );
}

/// The store keeps each case's summary in its index; a report read from the store (one range
/// scan, no events) has the same figures as the cases fed with their events.
#[test]
fn a_report_from_the_store_summaries_matches_the_cases_with_their_events() {
    let store = crate::store::Store::temporary().unwrap();
    for (case, events) in seeded() {
        store
            .transact(|tx| {
                tx.put_case(&case)?;
                tx.append_events(&events)
            })
            .unwrap();
    }
    let period = period();
    let from_store = from_store(&store, period.from, period.to, period.first_response).unwrap();
    assert_eq!(from_store, report());
}
