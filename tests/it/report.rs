//! `mentiondesk report` on a seeded store (figures computed by hand), the report and
//! `/metrics` of a running bot, and fairness: reach never orders the queue and is shown only
//! as a bucket when `[fairness] show_reach` is on.

use std::process::{Command, Output};

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use mentiondesk::domain::{
    Agent, Author, Case, CaseEvent, CaseId, CaseState, Escalation, EventKind, Label, Mention,
    MentionKind, Network, SentReply, Triage,
};
use mentiondesk::store::Store;

use crate::helpers::{bsky, card_of, test_config, TestApp};

fn mentiondesk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mentiondesk"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run mentiondesk")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn opened(
    id: u64,
    network: Network,
    label: Label,
    followers: Option<u64>,
    at: DateTime<Utc>,
) -> (Case, Vec<CaseEvent>) {
    let mention = Mention {
        network,
        source: "demo".into(),
        id: format!("p{id}"),
        url: format!("https://example.social/p{id}"),
        author: Author {
            id: format!("u{id}"),
            handle: format!("user{id}"),
            display_name: None,
            followers,
        },
        text: "my order never arrived".into(),
        created_at: at,
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: None,
        from_brand: false,
        raw: None,
    };
    let triage = Triage {
        label,
        score: 0.9,
        reason: String::new(),
    };
    let transition = Case::open(CaseId(id), mention, triage, at);
    (transition.case, transition.events)
}

fn claimed(case: &Case, events: &mut Vec<CaseEvent>, minutes: i64, by: &Agent) {
    events.push(CaseEvent {
        case: case.id,
        seq: events.len() as u32,
        at: case.opened_at + Duration::minutes(minutes),
        kind: EventKind::Claimed { by: by.clone() },
    });
}

fn replied(case: &mut Case, minutes: i64, by: &Agent) {
    let at = case.opened_at + Duration::minutes(minutes);
    case.first_response_at.get_or_insert(at);
    case.replies.push(SentReply {
        reply_id: format!("c{}-v1", case.id.0),
        by: by.clone(),
        text: "sorry".into(),
        post_id: "r1".into(),
        url: None,
        at,
    });
}

/// Four cases written through the store API; one is older than the week asked for. The
/// digest's tests (`digest.rs`) read the same store.
pub(crate) fn seed(store: &Store, now: DateTime<Utc>) {
    let ana = Agent::new("console:ana", "Ana");
    let bo = Agent::new("console:bo", "Bo");
    let mut cases = Vec::new();
    // 1: X complaint, 50 followers, two days ago: Ana claims at 10 min, replies at 30 min.
    let (mut a, mut events) = opened(
        1,
        Network::X,
        Label::Complaint,
        Some(50),
        now - Duration::days(2),
    );
    claimed(&a, &mut events, 10, &ana);
    replied(&mut a, 30, &ana);
    a.state = CaseState::Replied;
    cases.push((a, events));
    // 2: Mastodon complaint, 20,000 followers, yesterday: escalated to billing at 5 min, Bo
    // claims at 20 min and replies at 90 min (late), resolved.
    let (mut b, mut events) = opened(
        2,
        Network::Mastodon,
        Label::Complaint,
        Some(20_000),
        now - Duration::days(1),
    );
    b.escalations.push(Escalation {
        target: "billing".into(),
        label: "Billing team".into(),
        by: bo.clone(),
        note: "refund".into(),
        at: b.opened_at + Duration::minutes(5),
    });
    claimed(&b, &mut events, 20, &bo);
    replied(&mut b, 90, &bo);
    b.state = CaseState::Resolved;
    b.closed_at = Some(b.opened_at + Duration::minutes(100));
    cases.push((b, events));
    // 3: Bluesky question, no follower count, 3 hours ago, unanswered: past its 1 h target.
    let (c, events) = opened(
        3,
        Network::Bluesky,
        Label::Question,
        None,
        now - Duration::hours(3),
    );
    cases.push((c, events));
    // 4: ten days ago: outside the week.
    let (mut d, mut events) = opened(
        4,
        Network::X,
        Label::Complaint,
        Some(10),
        now - Duration::days(10),
    );
    claimed(&d, &mut events, 1, &ana);
    replied(&mut d, 2, &ana);
    cases.push((d, events));
    store
        .transact(|tx| {
            for (case, events) in &cases {
                tx.next_case_id()?;
                tx.put_case(case)?;
                tx.append_events(events)?;
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn report_on_a_seeded_store_matches_hand_computed_figures() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        test_config(dir.path(), "[sla]\nfirst_response = \"1h\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("store")).unwrap();
    {
        let store = Store::open(&dir.path().join("store/sled")).unwrap();
        seed(&store, Utc::now());
        store.flush().await.unwrap();
    }
    let config = config.to_str().unwrap();

    let output = mentiondesk(&[
        "report", "--config", config, "--since", "7d", "--format", "json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["cases"], 3);
    assert_eq!(
        report["volume"],
        json!([
            { "network": "bluesky", "label": "question", "cases": 1 },
            { "network": "mastodon", "label": "complaint", "cases": 1 },
            { "network": "x", "label": "complaint", "cases": 1 },
        ])
    );
    // Claims at 10 and 20 min; first responses at 30 and 90 min.
    assert_eq!(
        report["time_to_claim"],
        json!({ "count": 2, "median_secs": 600, "p90_secs": 1200 })
    );
    assert_eq!(
        report["time_to_first_response"],
        json!({ "count": 2, "median_secs": 1800, "p90_secs": 5400 })
    );
    // Met: 1. Missed: 2 (answered late) and 3 (unanswered for 3 h).
    assert_eq!(report["sla"]["met"], 1);
    assert_eq!(report["sla"]["missed"], 2);
    assert_eq!(report["sla"]["pending"], 0);
    assert!((report["sla"]["rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(report["resolved"], 1);
    assert_eq!(report["escalated"], 1);
    assert!((report["resolution_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        report["agents"],
        json!([
            { "id": "console:ana", "name": "Ana", "claimed": 1, "replies": 1,
              "response": { "count": 1, "median_secs": 1800, "p90_secs": 1800 } },
            { "id": "console:bo", "name": "Bo", "claimed": 1, "replies": 1,
              "response": { "count": 1, "median_secs": 5400, "p90_secs": 5400 } },
        ])
    );
    assert_eq!(report["escalation_targets"][0]["target"], "billing");
    assert_eq!(report["escalation_targets"][0]["escalations"], 1);
    assert_eq!(
        report["escalation_targets"][0]["time_to_escalation"]["median_secs"],
        300
    );
    let fairness: Vec<(String, u64, Value, Value)> = report["fairness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["bucket"].as_str().unwrap().to_string(),
                row["cases"].as_u64().unwrap(),
                row["time_to_first_response"]["median_secs"].clone(),
                row["sla"]["rate"].clone(),
            )
        })
        .collect();
    assert_eq!(
        fairness,
        [
            ("<100".to_string(), 1, json!(1800), json!(1.0)),
            ("10k-100k".to_string(), 1, json!(5400), json!(0.0)),
            ("unknown".to_string(), 1, Value::Null, json!(0.0)),
        ]
    );

    let output = mentiondesk(&["report", "--config", config, "--format", "csv"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let csv = text(&output.stdout);
    for line in [
        "period,,cases,3",
        "time_to_first_response,,median_secs,1800",
        "sla,,missed,2",
        "agent,console:bo,replies,1",
        "fairness_first_response,10k-100k,median_secs,5400",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line:?} in\n{csv}");
    }

    let output = mentiondesk(&["report", "--config", config, "--since", "30d"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.contains("UTC: 4\n"), "{table}");
    assert!(table.contains("Fairness"), "{table}");
}

/// The app's config with `[http].listen` set to the port it really listens on.
fn cli_config(app: &TestApp) -> std::path::PathBuf {
    let port = app.http.rsplit(':').next().unwrap();
    let config = app.config.replacen(
        "[http]\nlisten = \"127.0.0.1:0\"",
        &format!("[http]\nlisten = \"127.0.0.1:{port}\""),
        1,
    );
    let path = app.dir.path().join("cli.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn with_followers(mut mention: Value, followers: u64) -> Value {
    mention["author"]["followers"] = json!(followers);
    mention
}

fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|sample| {
            sample.metric == name
                && labels
                    .iter()
                    .all(|(label, value)| sample.labels.get(label) == Some(value))
        })
        .map(|sample| match sample.value {
            prometheus_parse::Value::Counter(value)
            | prometheus_parse::Value::Gauge(value)
            | prometheus_parse::Value::Untyped(value) => value,
            _ => f64::NAN,
        })
}

// Multi-threaded: the CLI child is awaited synchronously while the app must answer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_bot_reports_over_http_and_serves_metrics() {
    let mut app = TestApp::spawn_with("[fairness]\nshow_reach = true\n").await;
    // A big account writes after a small one: the small one's card still comes first.
    app.post(&[with_followers(
        bsky("p1", "jo", "@acme.bsky.social my order never arrived", None),
        40,
    )]);
    app.wait_for("mentions", |m| m.len() == 1).await;
    app.post(&[with_followers(
        bsky(
            "p2",
            "star",
            "@acme.bsky.social my package is lost, awful",
            None,
        ),
        2_500_000,
    )]);
    let messages = app.wait_for("mentions", |m| m.len() == 2).await;
    let order: Vec<u64> = messages
        .iter()
        .filter_map(|m| m["card"]["case_id"].as_u64())
        .collect();
    assert_eq!(order, [1, 2], "the queue is in arrival order");
    assert_eq!(
        card_of(&messages, 1).unwrap()["card"]["reach"],
        "<100 followers"
    );
    assert_eq!(
        card_of(&messages, 2).unwrap()["card"]["reach"],
        "100k+ followers"
    );

    let reply = app.button(1, "reply").await;
    let (status, body) = app
        .act(
            "Ana",
            &reply,
            json!({ "text": "@jo so sorry, reshipped today" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.wait_for_card(1, "replied", 2).await;

    let metrics = reqwest::get(format!("{}/metrics", app.http)).await.unwrap();
    assert_eq!(metrics.status(), 200);
    let content_type = metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = metrics.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|line| Ok(line.to_string())))
        .expect("valid Prometheus text");
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(&scrape, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} in\n{body}"))
    };
    assert_eq!(
        value(
            "mentiondesk_mentions_ingested_total",
            &[("network", "bluesky")]
        ),
        2.0
    );
    assert_eq!(value("mentiondesk_cases", &[("state", "replied")]), 1.0);
    assert_eq!(value("mentiondesk_cases", &[("state", "new")]), 1.0);
    assert_eq!(value("mentiondesk_cases", &[("state", "resolved")]), 0.0);
    assert_eq!(
        value("mentiondesk_replies_total", &[("result", "sent")]),
        1.0
    );
    assert_eq!(
        value("mentiondesk_replies_total", &[("result", "failed")]),
        0.0
    );
    assert_eq!(value("mentiondesk_sla_breaches_total", &[]), 0.0);
    assert!(
        value(
            "mentiondesk_cards_posted_total",
            &[("chat", "console"), ("kind", "case")]
        ) >= 2.0
    );
    assert!(value("mentiondesk_source_lag_seconds", &[("source", "demo")]) >= 0.0);
    assert_eq!(
        value("mentiondesk_component_up", &[("component", "source:demo")]),
        1.0
    );
    assert!(
        scrape.docs.contains_key("mentiondesk_outbox_depth"),
        "HELP for the outbox depth in\n{body}"
    );

    // The bot holds the store: the CLI asks it over /report.
    let config = cli_config(&app);
    let output = mentiondesk(&[
        "report",
        "--config",
        config.to_str().unwrap(),
        "--since",
        "1h",
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["cases"], 2);
    assert_eq!(report["time_to_first_response"]["count"], 1);
    assert_eq!(report["agents"][0]["name"], "Ana");
    assert_eq!(report["agents"][0]["replies"], 1);
    let buckets: Vec<&str> = report["fairness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["bucket"].as_str().unwrap())
        .collect();
    assert_eq!(buckets, ["<100", "100k+"]);
    app.stop().await;
}

#[tokio::test]
async fn reach_stays_off_cards_by_default() {
    let app = TestApp::spawn().await;
    app.post(&[with_followers(
        bsky("p1", "jo", "@acme.bsky.social my order never arrived", None),
        40,
    )]);
    let messages = app.wait_for("mentions", |m| m.len() == 1).await;
    assert_eq!(card_of(&messages, 1).unwrap()["card"]["reach"], Value::Null);
}
