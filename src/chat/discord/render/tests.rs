use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::*;
use crate::domain::{Button, CaseId, Label, Payload, Triage};

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
        first_response_due: Some(Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()),
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

fn json(message: &CardMessage) -> (Value, Vec<Value>) {
    (
        serde_json::to_value(&message.embed).unwrap(),
        message
            .components
            .iter()
            .map(|row| serde_json::to_value(row).unwrap())
            .collect(),
    )
}

/// Discord's embed total: title, description, field names and values, footer.
fn total(embed: &Value) -> usize {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.trim().chars().count());
    chars(&embed["title"])
        + chars(&embed["description"])
        + chars(&embed["footer"]["text"])
        + embed["fields"].as_array().map_or(0, |fields| {
            fields
                .iter()
                .map(|f| chars(&f["name"]) + chars(&f["value"]))
                .sum()
        })
}

fn field<'a>(embed: &'a Value, name: &str) -> &'a str {
    embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_str())
        .unwrap_or_else(|| panic!("no field {name} in {embed}"))
}

#[test]
fn a_case_card_is_an_embed_with_two_rows_of_buttons() {
    let (embed, rows) = json(&card_message(&sample_card(), "case-7", None));
    assert_eq!(embed["title"], "Complaint on Bluesky");
    assert_eq!(
        embed["url"],
        "https://bsky.app/profile/carol.example/post/1"
    );
    assert_eq!(embed["description"], "My order never arrived");
    assert_eq!(embed["color"], 0xE74C3C);
    assert_eq!(embed["footer"]["text"], "mentiondesk · case-7");
    assert_eq!(field(&embed, "Network"), "Bluesky");
    assert_eq!(field(&embed, "Author"), "Carol @carol.example");
    assert_eq!(
        field(&embed, "Triage"),
        "**complaint** · score 0.91 · cues\\: never arrived"
    );
    assert!(field(&embed, "Owner and state")
        .starts_with(r"New · unclaimed · first response due 11\:00 CET · opened <t:"));
    assert_eq!(
        field(&embed, "SLA"),
        format!(
            "first response due <t:{}:R>",
            Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0)
                .unwrap()
                .timestamp()
        )
    );
    assert_eq!(rows.len(), 2);
    let ids = |row: &Value| -> Vec<(String, u64)> {
        row["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                assert_eq!(b["type"], 2);
                (
                    b["custom_id"].as_str().unwrap().to_string(),
                    b["style"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(rows[0]["type"], 1);
    assert_eq!(
        ids(&rows[0]),
        vec![
            ("claim:7:3".to_string(), 1),
            ("reply:7:3".to_string(), 2),
            ("escalate:7:3".to_string(), 2)
        ]
    );
    assert_eq!(
        ids(&rows[1]),
        vec![
            ("resolve:7:3".to_string(), 2),
            ("dismiss:7:3".to_string(), 4)
        ]
    );
}

#[test]
fn colours_follow_the_state() {
    let cases = [
        (CaseState::New, 0xE74C3C),
        (CaseState::Claimed, 0xF1C40F),
        (CaseState::Replied, 0x3498DB),
        (CaseState::CustomerReplied, 0xE67E22),
        (CaseState::Resolved, 0x2ECC71),
        (CaseState::Dismissed, 0x95A5A6),
    ];
    for (state, colour) in cases {
        let mut card = sample_card();
        card.state = state;
        let (embed, _) = json(&card_message(&card, "case-7", None));
        assert_eq!(embed["color"], colour, "{state:?}");
    }
}

#[test]
fn limits_hold_however_long_the_inputs() {
    let long = "x".repeat(10_000);
    let cases: Vec<(&str, Card)> = vec![
        ("long post", {
            let mut card = sample_card();
            card.text = long.clone();
            card.text_truncated = true;
            card
        }),
        ("long everything", {
            let mut card = sample_card();
            card.title = long.clone();
            card.text = long.clone();
            card.author_name = Some(long.clone());
            card.triage.reason = long.clone();
            card.state_line = long.clone();
            card.context = Some(long.clone());
            card.kind = CardKind::Escalation {
                target: long.clone(),
                by: long.clone(),
                note: long.clone(),
            };
            card
        }),
        ("markdown everywhere", {
            let mut card = sample_card();
            card.text = "*_~`|><[]#@:".repeat(800);
            card
        }),
    ];
    for (name, card) in cases {
        let (embed, rows) = json(&card_message(&card, "case-7", None));
        assert!(
            total(&embed) <= EMBED_TOTAL_MAX,
            "{name}: {}",
            total(&embed)
        );
        assert!(
            embed["title"].as_str().unwrap().chars().count() <= TITLE_MAX,
            "{name}"
        );
        assert!(
            embed["description"].as_str().unwrap().chars().count() <= DESCRIPTION_MAX,
            "{name}"
        );
        for f in embed["fields"].as_array().unwrap() {
            assert!(
                f["value"].as_str().unwrap().chars().count() <= FIELD_VALUE_MAX,
                "{name}"
            );
        }
        for row in &rows {
            for b in row["components"].as_array().unwrap() {
                assert!(b["custom_id"].as_str().unwrap().len() <= CUSTOM_ID_MAX);
            }
        }
    }
    // A cut post ends with a link to the whole of it.
    let mut card = sample_card();
    card.text = long;
    card.text_truncated = true;
    let (embed, _) = json(&card_message(&card, "case-7", None));
    assert!(embed["description"]
        .as_str()
        .unwrap()
        .ends_with("…\n[Read the full post](https://bsky.app/profile/carol.example/post/1)"));
}

#[test]
fn hostile_text_cannot_ping_or_format() {
    let mut card = sample_card();
    card.text = "@everyone **free** [click](https://evil.example) <@&1>".to_string();
    let (embed, _) = json(&card_message(&card, "case-7", None));
    assert_eq!(
        embed["description"],
        "\\@everyone \\*\\*free\\*\\* \\[click\\](https\\://evil.example) \\<\\@&1\\>"
    );
}

#[test]
fn an_escalation_card_mentions_the_role_in_its_content() {
    let mut card = sample_card();
    card.buttons.clear();
    card.kind = CardKind::Escalation {
        target: "Tier 2".to_string(),
        by: "Ana".to_string(),
        note: "refund now".to_string(),
    };
    let cases = [
        (
            Some("345678901234567890"),
            "<@&345678901234567890>",
            Some(345678901234567890),
        ),
        (
            Some("<@&345678901234567890>"),
            "<@&345678901234567890>",
            Some(345678901234567890),
        ),
        (Some("S0SLACKGROUP"), "", None),
        (None, "", None),
    ];
    for (mention, content, role) in cases {
        let message = card_message(&card, "case-7-escalation-tier2", mention);
        assert_eq!(message.content, content, "{mention:?}");
        assert_eq!(message.ping_role, role);
        assert!(message.components.is_empty());
        let (embed, _) = json(&message);
        assert_eq!(
            field(&embed, "Escalated"),
            "to **Tier 2** by Ana\nrefund now"
        );
    }
}

#[test]
fn notes_name_who_and_link_without_embeds() {
    let at = opened();
    let cases = [
        (
            ThreadNote {
                text: "Claimed by Ana".into(),
                by: Some("Ana".into()),
                at,
                link: None,
                mention: None,
            },
            "Claimed by Ana",
        ),
        (
            ThreadNote {
                text: "replied publicly".into(),
                by: Some("Bo".into()),
                at,
                link: Some("https://bsky.app/p/1".into()),
                mention: None,
            },
            "**Bo**: replied publicly <https://bsky.app/p/1>",
        ),
        (
            ThreadNote {
                text: "x".repeat(3000),
                by: None,
                at,
                link: Some("javascript:x".into()),
                mention: None,
            },
            "",
        ),
    ];
    for (note, expected) in cases {
        let text = note_text(&note);
        assert!(text.chars().count() <= CONTENT_MAX);
        if !expected.is_empty() {
            assert_eq!(text, expected);
        } else {
            assert!(!text.contains("javascript"));
        }
    }
}

#[test]
fn the_reply_modal_limits_the_text_to_the_network() {
    let form = ReplyForm {
        payload: "reply:7:3".into(),
        handle: "carol.example".into(),
        network: Network::Bluesky,
        limit: 300,
        initial: "@carol.example ".into(),
    };
    let modal = serde_json::to_value(reply_modal(&form)).unwrap();
    assert_eq!(modal["custom_id"], "mdreply:reply:7:3");
    assert!(modal["title"].as_str().unwrap().chars().count() <= MODAL_TITLE_MAX);
    let text = &modal["components"][0]["components"][0];
    assert_eq!(text["type"], 4);
    assert_eq!(text["style"], 2);
    assert_eq!(text["custom_id"], TEXT_INPUT);
    assert_eq!(text["max_length"], 300);
    assert_eq!(text["value"], "@carol.example ");
    assert!(text["label"].as_str().unwrap().chars().count() <= INPUT_LABEL_MAX);
    let confirm = &modal["components"][1]["components"][0];
    assert_eq!(confirm["custom_id"], CONFIRM_INPUT);
    assert_eq!(confirm["required"], false);
}

#[test]
fn the_escalate_modal_lists_the_targets() {
    let targets = vec![
        ("tier2".to_string(), "Tier 2".to_string()),
        ("billing".to_string(), "Billing team".to_string()),
    ];
    let modal = serde_json::to_value(escalate_modal("escalate:7:3", &targets)).unwrap();
    assert_eq!(modal["custom_id"], "mdesc:escalate:7:3");
    let target = &modal["components"][0]["components"][0];
    assert_eq!(
        target["placeholder"],
        "tier2 = Tier 2, billing = Billing team"
    );
    assert_eq!(target["style"], 1);
    assert!(target.get("value").map_or(true, Value::is_null));
    let one = serde_json::to_value(escalate_modal("escalate:7:3", &targets[..1])).unwrap();
    assert_eq!(one["components"][0]["components"][0]["value"], "tier2");
}

#[test]
fn sla_warnings_mention_the_discord_owner_or_here() {
    let note = |mention| ThreadNote {
        text: "Next response overdue".to_string(),
        by: None,
        at: opened(),
        link: None,
        mention: Some(mention),
    };
    let agent = |id: &str| NoteMention::Agent {
        id: id.to_string(),
        name: "Ana".to_string(),
    };
    for (mention, expected, user) in [
        (
            agent("discord:80351110224678912"),
            "<@80351110224678912> Next",
            Some(80351110224678912),
        ),
        (agent("slack:U0ANA"), "@Ana Next", None),
        (agent("discord:abc"), "@Ana Next", None),
        (NoteMention::Channel, "@here Next", None),
    ] {
        assert!(
            note_text(&note(mention.clone())).starts_with(expected),
            "{mention:?}"
        );
        assert_eq!(note_user(&mention), user);
    }
}

#[test]
fn a_repeat_customer_and_a_next_response_show_as_fields() {
    let mut card = sample_card();
    card.first_response_due = None;
    card.next_response_due = Some(opened());
    card.repeat = Some(crate::domain::RepeatFlag {
        text: "repeat customer: 2nd case in 7 days".to_string(),
        last_case: CaseId(5),
        last_cards: Default::default(),
    });
    let (embed, _) = json(&card_message(&card, "case-7", None));
    assert_eq!(
        field(&embed, "Repeat"),
        "🔁 repeat customer\\: 2nd case in 7 days · last case #5"
    );
    assert!(field(&embed, "SLA").starts_with("next response due <t:"));
    card.overdue = true;
    let (embed, _) = json(&card_message(&card, "case-7", None));
    assert_eq!(field(&embed, "SLA"), "next response overdue");
}

#[test]
fn command_answers_list_cases_with_card_links_and_escape_text() {
    use crate::chat::commands::{CaseLine, CommandAnswer, Stats, STATES};
    let line = CaseLine {
        case: CaseId(3),
        network: Network::Bluesky,
        handle: "jo_*x".into(),
        excerpt: "my **order** never arrived".into(),
        state: CaseState::New,
        owner: None,
        opened_at: opened(),
        waiting: chrono::Duration::minutes(125),
        card: Some(MessageRef {
            channel: "5".into(),
            message: "6".into(),
            thread: None,
        }),
    };
    let link = |message: &MessageRef| {
        Some(format!(
            "https://discord.com/channels/1/{}/{}",
            message.channel, message.message
        ))
    };
    let (title, body) = command_answer(
        &CommandAnswer::Queue {
            cases: vec![line.clone()],
            more: 2,
        },
        &link,
    );
    assert_eq!(title, "Queue: 3 open, unclaimed");
    assert_eq!(
        body,
        "**Case 3** · Bluesky · @jo\\_\\*x · new · waiting 2h 05m · [card](https://discord.com/channels/1/5/6)\n> my \\*\\*order\\*\\* never arrived\n… and 2 more"
    );
    let (title, body) = command_answer(
        &CommandAnswer::Mine {
            cases: Vec::new(),
            more: 0,
        },
        &link,
    );
    assert_eq!(
        (title.as_str(), body.as_str()),
        ("Your open cases: 0", "You own no open cases.")
    );

    let stats = Stats {
        day: opened().date_naive(),
        opened: 4,
        by_state: STATES.iter().map(|state| (*state, 1)).collect(),
        open: 3,
        unclaimed: 1,
        first_responses: 2,
        median_first_response: Some(chrono::Duration::minutes(12)),
    };
    let (title, body) = command_answer(&CommandAnswer::Stats(stats), &link);
    assert_eq!(title, "Today (2026-03-02 UTC)");
    assert!(
        body.starts_with("Opened today: **4** (new 1 · claimed 1"),
        "{body}"
    );
    assert!(
        body.ends_with("First public replies today: **2**, median 12m"),
        "{body}"
    );

    let (_, body) = command_answer(
        &CommandAnswer::Help {
            unknown: Some("<@1>".into()),
        },
        &link,
    );
    assert!(
        body.starts_with("Unknown command \"\\<\\@1\\>\". /mentiondesk queue"),
        "{body}"
    );
}

#[test]
fn the_command_has_a_subcommand_per_answer() {
    let json = serde_json::to_value(command()).unwrap();
    assert_eq!(json["name"], "mentiondesk");
    let names: Vec<&str> = json["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|option| {
            assert_eq!(option["type"], 1);
            option["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["queue", "mine", "stats", "skipped"]);
    assert!(json["description"].as_str().unwrap().chars().count() <= 100);
}

#[test]
fn a_kudos_card_has_one_mark_as_complaint_button_and_no_sla() {
    let mut card = sample_card();
    card.kind = CardKind::Kudos;
    card.title = "Praise on Bluesky".to_string();
    card.first_response_due = None;
    card.state_line = "Kudos · no action needed".to_string();
    card.buttons = vec![button(ActionKind::MarkComplaint, ButtonStyle::Default)];
    let (embed, rows) = json(&card_message(&card, "kudos-7", None));
    assert_eq!(embed["title"], "Praise on Bluesky");
    assert_eq!(embed["footer"]["text"], "mentiondesk · kudos-7");
    assert!(embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["name"] != "SLA"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["components"][0]["custom_id"], "complaint:7:3");
    assert_eq!(rows[0]["components"][0]["label"], "Mark as complaint");
}

#[test]
fn the_saved_reply_picker_is_a_private_select_within_discord_limits() {
    let names: Vec<String> = (0..30).map(|n| format!("Reply {n}")).collect();
    let message = serde_json::to_value(saved_reply_picker("reply:7:3", &names)).unwrap();
    assert_eq!(message["flags"], 64, "ephemeral");
    let select = &message["components"][0]["components"][0];
    assert_eq!(select["type"], 3);
    assert_eq!(select["custom_id"], "mdsaved:reply:7:3");
    let options = select["options"].as_array().unwrap();
    assert_eq!(
        options.len(),
        SELECT_OPTIONS_MAX,
        "\"Write my own\" plus 24"
    );
    assert_eq!(options[0]["value"], OWN_TEXT);
    assert_eq!(options[1]["value"], "saved:Reply 0");

    let modal = serde_json::to_value(reject_modal("reject:7:3")).unwrap();
    assert_eq!(modal["custom_id"], "mdreject:reject:7:3");
    let input = &modal["components"][0]["components"][0];
    assert_eq!(
        (input["custom_id"].as_str(), input["required"].as_bool()),
        (Some(REASON_INPUT), Some(false))
    );
}
