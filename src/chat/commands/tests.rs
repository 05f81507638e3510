use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::domain::{Agent, Author, Label, Mention, MentionKind, Triage};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap()
}

fn context(agent_id: &str) -> CommandContext<'_> {
    CommandContext {
        chat: "slack",
        agent_id,
        now: now(),
    }
}

/// A case opened `minutes_ago`, in `state`, owned by `owner` (an agent id), with a card in
/// Slack.
fn case(id: u64, minutes_ago: i64, state: CaseState, owner: Option<&str>) -> Case {
    let opened_at = now() - Duration::minutes(minutes_ago);
    let mention = Mention {
        network: Network::Bluesky,
        source: "bsky".to_string(),
        id: format!("p{id}"),
        url: format!("https://bsky.app/post/p{id}"),
        author: Author {
            id: format!("did:plc:c{id}"),
            handle: format!("user{id}.bsky.social"),
            display_name: None,
            followers: None,
        },
        text: format!("order {id} never arrived, mail me at jo@example.com"),
        created_at: opened_at,
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: None,
        from_brand: false,
        raw: None,
    };
    let triage = Triage {
        label: Label::Complaint,
        score: 0.9,
        reason: String::new(),
    };
    let mut case = Case::open(CaseId(id), mention, triage, opened_at).case;
    case.state = state;
    case.owner = owner.map(|id| Agent::new(id, id.trim_start_matches("slack:")));
    case.chat_refs.insert(
        "slack".to_string(),
        MessageRef {
            channel: "C1".to_string(),
            message: format!("1700000000.{id:06}"),
            thread: None,
        },
    );
    case
}

#[test]
fn parse_reads_the_first_word() {
    let check = |text: &str, expected: ChatCommand| assert_eq!(parse(text), expected, "{text:?}");
    check("queue", ChatCommand::Queue);
    check("  Queue  now", ChatCommand::Queue);
    check("mine", ChatCommand::Mine);
    check("STATS", ChatCommand::Stats);
    check("", ChatCommand::Help { unknown: None });
    check("help", ChatCommand::Help { unknown: None });
    check(
        "frobnicate",
        ChatCommand::Help {
            unknown: Some("frobnicate".to_string()),
        },
    );
}

#[test]
fn queue_lists_open_unclaimed_cases_longest_waiting_first() {
    let cases = vec![
        case(1, 10, CaseState::New, None),
        case(2, 50, CaseState::New, None),
        case(3, 90, CaseState::Claimed, Some("slack:UANA")),
        case(4, 120, CaseState::Resolved, None),
        case(5, 30, CaseState::CustomerReplied, None),
    ];
    let CommandAnswer::Queue { cases, more } = answer(&ChatCommand::Queue, cases, context("x"))
    else {
        panic!("a queue answer")
    };
    let ids: Vec<u64> = cases.iter().map(|line| line.case.0).collect();
    assert_eq!(ids, vec![2, 5, 1]);
    assert_eq!(more, 0);
    assert_eq!(cases[0].waiting, Duration::minutes(50));
    assert_eq!(cases[0].card.as_ref().unwrap().message, "1700000000.000002");
    assert!(
        cases[0].excerpt.contains("order 2 never arrived"),
        "{}",
        cases[0].excerpt
    );
    assert!(
        !cases[0].excerpt.contains("jo@example.com"),
        "personal data is masked: {}",
        cases[0].excerpt
    );
}

#[test]
fn a_long_queue_is_cut_and_counted() {
    let cases = (1..=MAX_LISTED as u64 + 4).map(|id| case(id, id as i64, CaseState::New, None));
    let CommandAnswer::Queue { cases, more } = answer(&ChatCommand::Queue, cases, context("x"))
    else {
        panic!("a queue answer")
    };
    assert_eq!(cases.len(), MAX_LISTED);
    assert_eq!(more, 4);
    assert_eq!(cases[0].case, CaseId(MAX_LISTED as u64 + 4), "oldest first");
}

#[test]
fn mine_lists_only_the_askers_open_cases() {
    let cases = vec![
        case(1, 10, CaseState::Claimed, Some("slack:UANA")),
        case(2, 50, CaseState::Replied, Some("slack:UANA")),
        case(3, 90, CaseState::Claimed, Some("slack:UBO")),
        case(4, 120, CaseState::Resolved, Some("slack:UANA")),
        case(5, 30, CaseState::New, None),
    ];
    let CommandAnswer::Mine { cases, .. } =
        answer(&ChatCommand::Mine, cases, context("slack:UANA"))
    else {
        panic!("a mine answer")
    };
    let ids: Vec<u64> = cases.iter().map(|line| line.case.0).collect();
    assert_eq!(ids, vec![2, 1]);
    assert_eq!(cases[0].owner.as_deref(), Some("UANA"));
}

#[test]
fn stats_count_today_by_state_and_take_the_median_first_response() {
    let mut answered_fast = case(1, 60, CaseState::Replied, Some("slack:UANA"));
    answered_fast.first_response_at = Some(answered_fast.opened_at + Duration::minutes(10));
    let mut answered_slow = case(2, 120, CaseState::Resolved, Some("slack:UANA"));
    answered_slow.first_response_at = Some(answered_slow.opened_at + Duration::minutes(40));
    let mut answered_mid = case(3, 180, CaseState::Replied, None);
    answered_mid.first_response_at = Some(answered_mid.opened_at + Duration::minutes(20));
    // Opened yesterday, answered yesterday: in "open" only.
    let mut yesterday = case(4, 60 * 20, CaseState::Claimed, Some("slack:UBO"));
    yesterday.first_response_at = Some(yesterday.opened_at + Duration::minutes(5));
    let cases = vec![
        answered_fast,
        answered_slow,
        answered_mid,
        yesterday,
        case(5, 5, CaseState::New, None),
        case(6, 6, CaseState::Dismissed, None),
    ];
    let CommandAnswer::Stats(stats) = answer(&ChatCommand::Stats, cases, context("x")) else {
        panic!("a stats answer")
    };
    assert_eq!(stats.day, now().date_naive());
    assert_eq!(stats.opened, 5);
    let count = |state| {
        stats
            .by_state
            .iter()
            .find(|(candidate, _)| *candidate == state)
            .unwrap()
            .1
    };
    assert_eq!(count(CaseState::Replied), 2);
    assert_eq!(count(CaseState::Resolved), 1);
    assert_eq!(count(CaseState::New), 1);
    assert_eq!(count(CaseState::Dismissed), 1);
    assert_eq!(count(CaseState::Claimed), 0);
    assert_eq!(stats.by_state.len(), STATES.len());
    assert_eq!(stats.open, 4, "1, 3, 4 and 5");
    assert_eq!(stats.unclaimed, 2, "3 and 5");
    assert_eq!(stats.first_responses, 3);
    assert_eq!(stats.median_first_response, Some(Duration::minutes(20)));
}

#[test]
fn stats_without_replies_have_no_median() {
    let CommandAnswer::Stats(stats) = answer(
        &ChatCommand::Stats,
        vec![case(1, 5, CaseState::New, None)],
        context("x"),
    ) else {
        panic!("a stats answer")
    };
    assert_eq!(stats.median_first_response, None);
    assert_eq!(stats.first_responses, 0);
}

#[test]
fn durations_read_short() {
    for (seconds, expected) in [
        (42, "42s"),
        (12 * 60 + 5, "12m"),
        (3 * 3600 + 5 * 60, "3h 05m"),
        (2 * 86_400 + 4 * 3600, "2d 4h"),
        (-5, "0s"),
    ] {
        assert_eq!(short_duration(Duration::seconds(seconds)), expected);
    }
}

#[test]
fn answers_from_the_store_read_every_case() {
    let store = Store::temporary().unwrap();
    store
        .transact(|tx| {
            tx.put_case(&case(1, 10, CaseState::New, None))?;
            tx.put_case(&case(2, 20, CaseState::New, None))
        })
        .unwrap();
    let answer = answer_from_store(&store, &ChatCommand::Queue, context("x")).unwrap();
    let CommandAnswer::Queue { cases, .. } = answer else {
        panic!("a queue answer")
    };
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].case, CaseId(2));
}
