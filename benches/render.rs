//! Card rendering: the neutral `Card` built from a case, then the console's HTML fragment and
//! Slack's Block Kit message (and its JSON, as sent), for a typical and a maximal card.
//!
//! Run with `cargo bench --bench render`.
//!
//! Typical: a 140-character complaint, a new case, two thread notes. Maximal: a post at the
//! card's limit (`CARD_TEXT_MAX` characters, full of characters that need escaping), long
//! names, an escalation card with a long note, customer context, overdue, every button, and
//! 50 thread notes under the console card.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};

use mentiondesk::chat::console::render;
use mentiondesk::chat::console::ConsoleMessage;
use mentiondesk::chat::slack::render::card_message;
use mentiondesk::domain::card::CARD_TEXT_MAX;
use mentiondesk::domain::{
    case_card, ActionKind, Author, Button, ButtonStyle, Card, CardKind, Case, CaseId, CaseState,
    CustomerContext, Label, Mention, MentionKind, Network, Payload, ThreadNote, Triage,
};

const TYPICAL: &str = "@AcmeSupport my hub's been offline since yesterday, light just blinks orange. been on hold 40 min. pls call me back!";

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap()
}

fn case(text: &str) -> Case {
    let opened = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let mention = Mention {
        network: Network::Bluesky,
        source: "demo".into(),
        id: "at://did:plc:carol/app.bsky.feed.post/3kabc".into(),
        url: "https://bsky.app/profile/carol.example/post/3kabc".into(),
        author: Author {
            id: "did:plc:carol".into(),
            handle: "carol.example".into(),
            display_name: Some("Carol".into()),
            followers: Some(1200),
        },
        text: text.into(),
        created_at: opened,
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: Some("en".into()),
        from_brand: false,
        raw: None,
    };
    let triage = Triage {
        label: Label::Complaint,
        score: 0.91,
        reason: "cues: offline, on hold; negative".into(),
    };
    Case::open(CaseId(7), mention, triage, opened).case
}

fn note(n: usize, length: usize) -> ThreadNote {
    ThreadNote {
        text: format!(
            "note {n}: {}",
            "customer <wrote> again & asked \"when\"? ".repeat(length / 40 + 1)
        ),
        by: Some(format!("agent-{n}")),
        at: now(),
        link: Some(format!("https://bsky.app/profile/carol.example/post/{n}")),
        mention: None,
    }
}

fn typical() -> (Card, Vec<ThreadNote>) {
    let card = case_card(&case(TYPICAL), &CustomerContext::default());
    (card, vec![note(1, 60), note(2, 60)])
}

fn maximal() -> (Card, Vec<ThreadNote>) {
    let text: String = "Order <#4411> & \"refund\" — never arrived 😡 ".repeat(40);
    let mut card = case_card(
        &case(&text),
        &CustomerContext {
            earlier: (1..50).map(|n| (CaseId(n), CaseState::Resolved)).collect(),
            ..Default::default()
        },
    );
    card.text = text.chars().take(CARD_TEXT_MAX).collect();
    card.text_truncated = true;
    card.author_name = Some("Carol <the> \"Customer\" & Sons ".repeat(4));
    card.kind = CardKind::Escalation {
        target: "Billing & refunds <EU>".into(),
        by: "Dana Agent-With-A-Long-Name".into(),
        note: "Refund twice promised; see thread & the order <#4411>. ".repeat(12),
    };
    card.overdue = true;
    card.owner = Some("Dana Agent-With-A-Long-Name".into());
    card.first_response_due = Some(now());
    card.buttons = ActionKind::ALL
        .iter()
        .map(|&kind| Button {
            kind,
            label: kind.label().to_string(),
            payload: Payload {
                kind,
                case: CaseId(7),
                version: 3,
            }
            .to_string(),
            style: ButtonStyle::Default,
        })
        .collect();
    (card, (0..50).map(|n| note(n, 300)).collect())
}

fn message(card: Card, thread: Vec<ThreadNote>) -> ConsoleMessage {
    ConsoleMessage {
        key: "case-7".into(),
        channel: "mentions".into(),
        message_id: "000042".into(),
        card,
        note_keys: (0..thread.len())
            .map(|n| format!("case-7-event-{n}"))
            .collect(),
        thread,
        posted_at: now(),
        updated_at: now(),
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("render/case_card (domain Card from a Case)", |b| {
        let case = case(TYPICAL);
        let context = CustomerContext::default();
        b.iter(|| black_box(case_card(black_box(&case), &context)));
    });
    for (name, (card, thread)) in [("typical", typical()), ("maximal", maximal())] {
        let console = message(card.clone(), thread);
        c.bench_function(&format!("render/console/{name}"), |b| {
            b.iter(|| black_box(render::card(black_box(&console), now())));
        });
        c.bench_function(&format!("render/slack/{name}"), |b| {
            b.iter(|| black_box(card_message(black_box(&card), Some("S0BILLING"))));
        });
        c.bench_function(&format!("render/slack/{name} + JSON"), |b| {
            b.iter(|| {
                let message = card_message(black_box(&card), Some("S0BILLING"));
                black_box(serde_json::to_string(&message.blocks).expect("blocks serialize"))
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
