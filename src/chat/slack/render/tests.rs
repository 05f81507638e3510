use chrono::TimeZone;
use serde_json::{json, Value};

use super::*;
use crate::domain::{Button, CaseId, CaseState, Label, Payload, Triage};

fn opened() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn button(kind: ActionKind, style: ButtonStyle) -> Button {
    Button {
        kind,
        label: kind.label().to_string(),
        payload: Payload {
            kind,
            case: CaseId(7),
            version: 3,
        }
        .to_string(),
        style,
    }
}

fn sample_card() -> Card {
    Card {
        case_id: CaseId(7),
        version: 3,
        kind: CardKind::Case,
        title: "Complaint on Bluesky".to_string(),
        network: Network::Bluesky,
        author_handle: "carol.example".to_string(),
        author_name: Some("Carol".to_string()),
        post_url: "https://bsky.app/profile/carol.example/post/1".to_string(),
        text: "My order never arrived".to_string(),
        text_truncated: false,
        triage: Triage {
            label: Label::Complaint,
            score: 0.91,
            reason: "cues: never arrived".to_string(),
        },
        context: Some("1 earlier case from this customer; last #2 (resolved)".to_string()),
        state: CaseState::New,
        state_line: "New · unclaimed · first response due 11:00 CET".to_string(),
        owner: None,
        opened_at: opened(),
        first_response_due: None,
        overdue: false,
        next_response_due: None,
        repeat: None,
        similar_posts: None,
        reach: None,
        buttons: vec![
            button(ActionKind::Claim, ButtonStyle::Primary),
            button(ActionKind::Reply, ButtonStyle::Default),
            button(ActionKind::Escalate, ButtonStyle::Default),
            button(ActionKind::Resolve, ButtonStyle::Default),
            button(ActionKind::Dismiss, ButtonStyle::Danger),
        ],
        reply_limit: 300,
    }
}

fn blocks_json(message: &CardMessage) -> Vec<Value> {
    message
        .blocks
        .iter()
        .map(|block| serde_json::to_value(block).unwrap())
        .collect()
}

/// Every text in the blocks, one per line.
fn texts(blocks: &[Value]) -> String {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value.as_str()) {
                        ("text", Some(text)) => {
                            out.push_str(text);
                            out.push('\n');
                        }
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    blocks.iter().for_each(|block| walk(block, &mut out));
    out
}

/// Checks Slack's limits the same way the fake does.
fn assert_within_limits(blocks: &[Value]) {
    assert!(blocks.len() <= BLOCKS_MAX);
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => assert!(block["text"]["text"].as_str().unwrap().chars().count() <= 150),
            "section" => {
                let count = block["text"]["text"].as_str().unwrap().chars().count();
                assert!((1..=3000).contains(&count), "section of {count}");
            }
            "context" => {
                for element in block["elements"].as_array().unwrap() {
                    assert!(element["text"].as_str().unwrap().chars().count() <= 3000);
                }
            }
            "actions" => {
                for element in block["elements"].as_array().unwrap() {
                    if element["type"] == "button" {
                        assert!(element["text"]["text"].as_str().unwrap().chars().count() <= 75);
                        assert!(element["value"].as_str().unwrap().len() <= 2000);
                    } else {
                        assert!(element["options"].as_array().unwrap().len() <= 5);
                    }
                }
            }
            other => panic!("unexpected block {other}"),
        }
    }
}

#[test]
fn a_case_card_has_header_post_source_triage_state_and_actions() {
    let message = card_message(&sample_card(), None);
    let blocks = blocks_json(&message);
    assert_within_limits(&blocks);
    let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["header", "section", "section", "section", "context", "context", "actions"]
    );
    assert_eq!(
        blocks[0]["text"],
        json!({"type": "plain_text", "text": "Complaint on Bluesky"})
    );
    assert_eq!(blocks[1]["text"]["text"], "> My order never arrived");
    assert_eq!(
        blocks[2]["text"]["text"],
        "*Carol* @carol.example · Bluesky · <https://bsky.app/profile/carol.example/post/1|View post>"
    );
    assert_eq!(
        blocks[3]["text"]["text"],
        "*complaint* · score 0.91 · cues: never arrived"
    );
    assert_eq!(
        blocks[5]["elements"][0]["text"],
        format!(
            "New · unclaimed · first response due 11:00 CET · opened <!date^{}^{{ago}}|Mar 02, 09:00 UTC>",
            opened().timestamp()
        )
    );
    let actions = blocks[6]["elements"].as_array().unwrap();
    assert_eq!(
        actions[0],
        json!({"type": "button", "action_id": "claim", "text": {"type": "plain_text", "text": "Claim"}, "value": "claim:7:3", "style": "primary"})
    );
    assert_eq!(actions[1]["action_id"], "reply");
    assert_eq!(actions[2]["action_id"], "escalate");
    assert_eq!(actions[3]["type"], "overflow");
    assert_eq!(actions[3]["action_id"], "more");
    let values: Vec<&str> = actions[3]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["resolve:7:3", "dismiss:7:3"]);
    assert_eq!(
        message.text,
        "Complaint on Bluesky: @carol.example — My order never arrived"
    );
}

#[test]
fn a_closed_card_shows_reopen_as_its_only_button() {
    let mut card = sample_card();
    card.state = CaseState::Resolved;
    card.buttons = vec![button(ActionKind::Reopen, ButtonStyle::Primary)];
    let blocks = blocks_json(&card_message(&card, None));
    let actions = blocks.last().unwrap()["elements"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["action_id"], "reopen");
    assert_eq!(actions[0]["value"], "reopen:7:3");
}

#[test]
fn long_and_hostile_text_stays_within_limits_and_is_escaped() {
    let mut card = sample_card();
    card.title = "T".repeat(400);
    card.text = format!("<!channel> & {}", "é".repeat(5000));
    card.text_truncated = true;
    card.author_name = Some("<@U123>".to_string());
    card.triage.reason = "r".repeat(4000);
    card.state_line = "s".repeat(4000);
    card.overdue = true;
    card.buttons[0].label = "L".repeat(200);
    let message = card_message(&card, None);
    let blocks = blocks_json(&message);
    assert_within_limits(&blocks);
    let all = texts(&blocks);
    assert!(!all.contains("<!channel>"), "mentions are escaped");
    assert!(!all.contains("<@U123>"));
    assert!(all.contains("&lt;!channel&gt; &amp; "));
    let post = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        post.ends_with("…\n<https://bsky.app/profile/carol.example/post/1|Read the full post>"),
        "{post}"
    );
    assert!(blocks[5]["elements"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with(":rotating_light: "));
    assert!(message.text.chars().count() <= FALLBACK_MAX);
}

#[test]
fn unsafe_links_are_not_linked() {
    let mut card = sample_card();
    card.post_url = "javascript:alert(1)".to_string();
    let all = texts(&blocks_json(&card_message(&card, None)));
    assert!(!all.contains("javascript:"), "{all}");
    assert!(all.contains("*Carol* @carol.example · Bluesky\n"), "{all}");
}

#[test]
fn escalation_cards_mention_the_group_and_carry_no_buttons() {
    let mut card = sample_card();
    card.kind = CardKind::Escalation {
        target: "Billing team".to_string(),
        by: "Ana".to_string(),
        note: "refund <now>".to_string(),
    };
    card.buttons.clear();
    for (mention, expected) in [
        (
            Some("S0BILLING"),
            "<!subteam^S0BILLING> Escalated to *Billing team* by Ana: refund &lt;now&gt;",
        ),
        (
            Some("<!subteam^S1|billing>"),
            "<!subteam^S1|billing> Escalated to *Billing team* by Ana: refund &lt;now&gt;",
        ),
        (
            Some("U0ONCALL"),
            "<@U0ONCALL> Escalated to *Billing team* by Ana: refund &lt;now&gt;",
        ),
        (
            Some("123456789012345678"),
            "Escalated to *Billing team* by Ana: refund &lt;now&gt;",
        ),
        (
            None,
            "Escalated to *Billing team* by Ana: refund &lt;now&gt;",
        ),
    ] {
        let blocks = blocks_json(&card_message(&card, mention));
        assert_eq!(blocks[1]["text"]["text"], expected, "{mention:?}");
        assert!(blocks.iter().all(|b| b["type"] != "actions"));
    }
}

#[test]
fn notes_name_who_only_when_the_text_does_not() {
    let at = opened();
    for (text, by, link, expected) in [
        ("Claimed by Ana", Some("Ana"), None, "Claimed by Ana"),
        (
            "Escalated to Billing",
            Some("Bo"),
            None,
            "*Bo*: Escalated to Billing",
        ),
        (
            "Ana replied publicly: <hi>",
            Some("Ana"),
            Some("https://bsky.app/x|y"),
            "Ana replied publicly: &lt;hi&gt; <https://bsky.app/x%7Cy|link>",
        ),
        ("Follow-up", None, Some("javascript:x"), "Follow-up"),
    ] {
        let note = ThreadNote {
            text: text.to_string(),
            by: by.map(str::to_string),
            at,
            link: link.map(str::to_string),
            mention: None,
        };
        assert_eq!(note_text(&note), expected);
    }
}

#[test]
fn the_reply_modal_is_prefilled_and_names_the_limit() {
    let form = ReplyForm {
        payload: "reply:7:3".to_string(),
        channel: "C0MENTIONS1".to_string(),
        handle: "carol.example".to_string(),
        network: Network::Bluesky,
        limit: 300,
        initial: "@carol.example ".to_string(),
        from_draft: false,
        saved: Vec::new(),
        chosen: None,
        text_block: REPLY_BLOCK.to_string(),
    };
    let view = serde_json::to_value(reply_modal(&form)).unwrap();
    assert_eq!(view["type"], "modal");
    assert_eq!(view["callback_id"], REPLY_CALLBACK);
    assert_eq!(view["title"]["text"], "Reply publicly");
    let metadata: FormMetadata =
        serde_json::from_str(view["private_metadata"].as_str().unwrap()).unwrap();
    assert_eq!(
        metadata,
        FormMetadata {
            payload: "reply:7:3".to_string(),
            channel: "C0MENTIONS1".to_string()
        }
    );
    assert!(view["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("counts up to *300* characters"));
    assert_eq!(view["blocks"][1]["block_id"], REPLY_BLOCK);
    assert_eq!(
        view["blocks"][1]["element"]["initial_value"],
        "@carol.example "
    );
    assert_eq!(view["blocks"][2]["block_id"], CONFIRM_BLOCK);
    assert_eq!(view["blocks"][2]["optional"], true);
    assert_eq!(
        view["blocks"][2]["element"]["options"][0]["value"],
        CONFIRM_VALUE
    );

    let draft = ReplyForm {
        initial: "my failed draft".to_string(),
        from_draft: true,
        ..form
    };
    let view = serde_json::to_value(reply_modal(&draft)).unwrap();
    assert!(view["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("The last reply was not sent"));
    assert_eq!(
        view["blocks"][1]["element"]["initial_value"],
        "my failed draft"
    );
}

#[test]
fn saved_replies_are_a_dispatching_select_and_a_pick_renames_the_text_block() {
    let form = ReplyForm {
        payload: "reply:7:3".to_string(),
        channel: "C0MENTIONS1".to_string(),
        handle: "carol.example".to_string(),
        network: Network::Bluesky,
        limit: 300,
        initial: "@carol.example sorry! Bo".to_string(),
        from_draft: false,
        saved: vec!["Apology".to_string(), "Refund".to_string()],
        chosen: Some("Apology".to_string()),
        text_block: next_text_block(REPLY_BLOCK),
    };
    let view = serde_json::to_value(reply_modal(&form)).unwrap();
    let select = &view["blocks"][1];
    assert_eq!(select["block_id"], SAVED_BLOCK);
    assert_eq!(select["dispatch_action"], true);
    assert_eq!(select["optional"], true);
    assert_eq!(select["element"]["type"], "static_select");
    assert_eq!(select["element"]["action_id"], SAVED_ACTION);
    assert_eq!(select["element"]["options"][1]["value"], "Refund");
    assert_eq!(select["element"]["initial_option"]["value"], "Apology");
    assert_eq!(view["blocks"][2]["block_id"], "reply_text.1");
    assert_eq!(
        view["blocks"][2]["element"]["initial_value"],
        "@carol.example sorry! Bo"
    );
    for (current, next) in [
        (REPLY_BLOCK, "reply_text.1"),
        ("reply_text.1", "reply_text.2"),
        ("reply_text.41", "reply_text.42"),
    ] {
        assert_eq!(next_text_block(current), next);
        assert!(is_text_block(current) && is_text_block(next));
    }
    assert!(!is_text_block("reply_textual") && !is_text_block(SAVED_BLOCK));
}

#[test]
fn the_escalate_modal_offers_the_targets() {
    let targets = vec![
        ("billing".to_string(), "Billing team".to_string()),
        ("tier2".to_string(), "T".repeat(100)),
    ];
    let view = serde_json::to_value(escalate_modal("escalate:7:3", "C1", &targets)).unwrap();
    assert_eq!(view["callback_id"], ESCALATE_CALLBACK);
    let options = view["blocks"][0]["element"]["options"].as_array().unwrap();
    assert_eq!(view["blocks"][0]["element"]["type"], "static_select");
    assert_eq!(options[0]["value"], "billing");
    assert_eq!(options[0]["text"]["text"], "Billing team");
    assert!(options[1]["text"]["text"].as_str().unwrap().chars().count() <= OPTION_TEXT_MAX);
    assert_eq!(view["blocks"][1]["block_id"], NOTE_BLOCK);
    assert_eq!(view["blocks"][1]["optional"], true);
}

#[test]
fn errors_land_under_the_right_block() {
    for (callback, field, expected) in [
        (REPLY_CALLBACK, "text", REPLY_BLOCK),
        (REPLY_CALLBACK, "", REPLY_BLOCK),
        (ESCALATE_CALLBACK, "target", TARGET_BLOCK),
        (ESCALATE_CALLBACK, "note", NOTE_BLOCK),
    ] {
        assert_eq!(error_block(field, callback), expected);
    }
}

#[test]
fn fit_never_splits_an_entity_or_a_link() {
    assert_eq!(fit("short", 10), "short");
    assert_eq!(fit("abcdef", 4), "abc…");
    assert_eq!(fit("ab &amp; cd", 6), "ab …");
    assert_eq!(fit("ab <https://x.y|z> cd", 8), "ab …");
}

#[test]
fn sla_warnings_mention_the_slack_owner_or_here() {
    let note = |mention| ThreadNote {
        text: "First response due at 2026-03-02 10:05 UTC".to_string(),
        by: None,
        at: opened(),
        link: None,
        mention: Some(mention),
    };
    let agent = |id: &str| crate::domain::NoteMention::Agent {
        id: id.to_string(),
        name: "Ana <3".to_string(),
    };
    for (mention, expected) in [
        (agent("slack:U0ANA"), "<@U0ANA> First response"),
        (agent("console:ana"), "@Ana &lt;3 First response"),
        (agent("slack:<!channel>"), "@Ana &lt;3 First response"),
        (
            crate::domain::NoteMention::Channel,
            "<!here> First response",
        ),
    ] {
        let text = note_text(&note(mention.clone()));
        assert!(text.starts_with(expected), "{mention:?}: {text}");
    }
}

#[test]
fn a_repeat_customer_is_flagged_by_case_number() {
    let mut card = sample_card();
    card.repeat = Some(crate::domain::RepeatFlag {
        text: "repeat customer: 3rd case in 7 days".to_string(),
        last_case: CaseId(5),
        last_cards: Default::default(),
    });
    let all = texts(&blocks_json(&card_message(&card, None)));
    assert!(
        all.contains(":repeat: repeat customer: 3rd case in 7 days · last case #5"),
        "{all}"
    );
    let repeat = card.repeat.as_mut().unwrap();
    repeat.last_cards.insert(
        "slack".to_string(),
        crate::domain::MessageRef {
            channel: "C0MENTIONS1".to_string(),
            message: "1763000000.000100".to_string(),
            thread: None,
        },
    );
    let linked = texts(&blocks_json(&card_message_linked(
        &card,
        None,
        Some("https://acme.slack.com/"),
    )));
    assert!(
        linked.contains(
            ":repeat: repeat customer: 3rd case in 7 days · last case <https://acme.slack.com/archives/C0MENTIONS1/p1763000000000100|#5>"
        ),
        "{linked}"
    );
}

#[test]
fn command_answers_link_cards_and_escape_what_people_wrote() {
    use crate::chat::commands::{CaseLine, CommandAnswer};
    let line = |case: u64, card: bool| CaseLine {
        case: CaseId(case),
        network: Network::Bluesky,
        handle: "jo<b>".to_string(),
        excerpt: "order <!channel> never came".to_string(),
        state: CaseState::New,
        owner: None,
        opened_at: opened(),
        waiting: chrono::Duration::minutes(90),
        card: card.then(|| crate::domain::MessageRef {
            channel: "C0MENTIONS1".to_string(),
            message: "1763000000.000100".to_string(),
            thread: None,
        }),
    };
    let answer = CommandAnswer::Queue {
        cases: vec![line(4, true), line(9, false)],
        more: 3,
    };
    let text = command_text(&answer, "/mentiondesk", Some("https://acme.slack.com/"));
    assert!(
        text.starts_with("*Queue: 5 open unclaimed cases*"),
        "{text}"
    );
    assert!(
        text.contains("• <https://acme.slack.com/archives/C0MENTIONS1/p1763000000000100|#4> Bluesky · @jo&lt;b&gt; · new · 1h 30m — _order &lt;!channel&gt; never came_"),
        "{text}"
    );
    assert!(text.contains("\n• #9 Bluesky"), "no card, no link: {text}");
    assert!(text.ends_with("…and 3 more"), "{text}");
    // Without the workspace URL the cases are listed without links.
    let text = command_text(&answer, "/mentiondesk", None);
    assert!(!text.contains("<https://"), "{text}");

    let help = command_text(
        &CommandAnswer::Help {
            unknown: Some("<!here>".to_string()),
        },
        "/mentiondesk",
        None,
    );
    assert!(
        help.starts_with("Unknown command “&lt;!here&gt;”"),
        "{help}"
    );
    let empty = command_text(
        &CommandAnswer::Mine {
            cases: Vec::new(),
            more: 0,
        },
        "/mentiondesk",
        None,
    );
    assert_eq!(empty, "You have no open cases.");
}

#[test]
fn the_reject_modal_asks_for_an_optional_reason() {
    let view = serde_json::to_value(reject_modal("reject:7:3", "C0MENTIONS1")).unwrap();
    assert_eq!(view["callback_id"], REJECT_CALLBACK);
    assert_eq!(view["blocks"][1]["block_id"], REASON_BLOCK);
    assert_eq!(view["blocks"][1]["optional"], true);
    assert_eq!(error_block("text", REJECT_CALLBACK), REASON_BLOCK);
}
