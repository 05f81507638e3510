//! Table tests for triage: the demo feed, the rules, languages and the learned model's use.

use super::*;
use crate::domain::{Author, MentionKind, Network};

fn mention(text: &str) -> Mention {
    Mention {
        network: Network::Bluesky,
        source: "test".into(),
        id: "1".into(),
        url: "https://bsky.app/x".into(),
        author: Author {
            id: "did:plc:jo".into(),
            handle: "jo.bsky.social".into(),
            display_name: None,
            followers: None,
        },
        text: text.into(),
        created_at: chrono::Utc::now(),
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: None,
        from_brand: false,
        raw: None,
    }
}

fn check(triager: &Triager, text: &str, expected: Label) -> Triage {
    let verdict = triager.triage(&mention(text));
    assert_eq!(verdict.label, expected, "{text:?}: {verdict:?}");
    assert!((0.0..=1.0).contains(&verdict.score), "{verdict:?}");
    verdict
}

#[test]
fn labels_follow_the_cues() {
    let triager = Triager::new(TriageRules {
        exclude_keywords: vec!["hiring".into()],
        ..TriageRules::default()
    });
    let table = [
        (
            "@acme I was charged twice and still no refund",
            Label::Complaint,
        ),
        (
            "@acme the app is broken again, third time this week",
            Label::Complaint,
        ),
        (
            "@acme not happy with the new update at all",
            Label::Complaint,
        ),
        ("@acme how do I export my invoices?", Label::Question),
        (
            "@acme thank you, the new dashboard is amazing",
            Label::Praise,
        ),
        ("@acme we're hiring! join the team", Label::Other),
        ("Going to the acme conference tomorrow", Label::Other),
        (
            "@acme when will you fix the login error? waiting for days",
            Label::Complaint,
        ),
        (
            "@acme this is the worst service, absolutely useless",
            Label::Complaint,
        ),
        (
            "@acme no problem, thanks for the quick help!",
            Label::Praise,
        ),
        (
            "@acme why does my order still say processing after two weeks?",
            Label::Complaint,
        ),
    ];
    for (text, expected) in table {
        check(&triager, text, expected);
    }
}

/// The demo feed's obvious complaints, and its obvious non-complaints, stay where they are.
#[test]
fn demo_feed_lines_keep_their_labels() {
    let triager = Triager::new(TriageRules::default());
    let feed = include_str!("../../../examples/mentions.jsonl");
    let text_of = |prefix: &str| -> String {
        feed.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|value| value["text"].as_str().map(str::to_string))
            .find(|text| text.starts_with(prefix))
            .unwrap_or_else(|| panic!("no demo line starts with {prefix:?}"))
    };
    let table = [
        ("@acme.bsky.social my order #A-20931", Label::Complaint),
        ("@AcmeSupport you charged me twice", Label::Complaint),
        (
            "@acme@mastodon.social since the 4.12 update",
            Label::Complaint,
        ),
        ("Day 5 of waiting", Label::Complaint),
        ("@AcmeSupport my hub's been offline", Label::Complaint),
        ("update: the carrier now says", Label::Complaint),
        ("Trying to cancel my Acme Plus", Label::Complaint),
        ("@AcmeSupport is the app down?", Label::Complaint),
        (
            "@AcmeSupport app says \"something went wrong\"",
            Label::Complaint,
        ),
        ("is acme down??", Label::Complaint),
        (
            "called acme support about my broken camera",
            Label::Complaint,
        ),
        (
            "@acme.bsky.social the refund for the doorbell",
            Label::Complaint,
        ),
        ("ordered the Acme indoor cam", Label::Complaint),
        ("thanks for nothing @AcmeSupport", Label::Complaint),
        ("final update for anyone following", Label::Complaint),
        ("Does anyone know if the Acme hub", Label::Question),
        ("how do I export my energy history", Label::Question),
        ("@acme.bsky.social is there a way to share", Label::Question),
        ("shoutout to @acme.bsky.social", Label::Praise),
        ("credit where it's due", Label::Praise),
        ("Smart-home maker Acme to expand", Label::Other),
    ];
    for (prefix, expected) in table {
        let verdict = check(&triager, &text_of(prefix), expected);
        if expected == Label::Complaint {
            assert!(triager.wants_card(&verdict), "{prefix:?}: {verdict:?}");
        }
    }
}

#[test]
fn reasons_name_the_cues_and_cards_follow_the_threshold() {
    let triager = Triager::new(TriageRules::default());
    let verdict = check(
        &triager,
        "my order never arrived, I want a refund",
        Label::Complaint,
    );
    assert!(verdict.reason.contains("\"refund\""), "{}", verdict.reason);
    assert!(
        verdict.reason.contains("\"never arrived\""),
        "{}",
        verdict.reason
    );
    assert!(triager.wants_card(&verdict));
    let negated = check(&triager, "honestly not happy with this", Label::Complaint);
    assert!(
        negated.reason.contains("\"not happy\""),
        "{}",
        negated.reason
    );
    let praise = triager.triage(&mention("love it, thanks"));
    assert!(!triager.wants_card(&praise));
}

#[test]
fn rules_apply_before_the_model() {
    let triager = Triager::new(TriageRules {
        include_keywords: vec!["Firmware".into()],
        exclude_keywords: vec!["giveaway".into()],
        include_patterns: vec![r"order #?\d{5}".into()],
        exclude_patterns: vec![r"^rt\b".into(), "(unclosed".into()],
        ignore_authors: vec!["@Jo.bsky.social".into()],
        ..TriageRules::default()
    });
    let ignored = triager.triage(&mention("worst service, refund now"));
    assert_eq!(ignored.label, Label::Other);
    assert!(ignored.reason.contains("ignored by config"), "{ignored:?}");
    assert!(!triager.wants_card(&ignored));

    let open = Triager::new(TriageRules {
        ignore_authors: Vec::new(),
        ..TriageRules {
            include_keywords: vec!["Firmware".into()],
            exclude_keywords: vec!["giveaway".into()],
            include_patterns: vec![r"order #?\d{5}".into()],
            exclude_patterns: vec![r"^rt\b".into(), "(unclosed".into()],
            ..TriageRules::default()
        }
    });
    let table: &[(&str, Label, &str)] = &[
        (
            "the firmware again",
            Label::Complaint,
            "included by \"firmware\"",
        ),
        (
            "about order #12345",
            Label::Complaint,
            r"included by /order #?\d{5}/",
        ),
        (
            "worst giveaway ever, broken",
            Label::Other,
            "excluded by keyword \"giveaway\"",
        ),
        (
            "RT this is broken and awful",
            Label::Other,
            r"excluded by pattern /^rt\b/",
        ),
        ("see you at the meetup", Label::Other, "no complaint"),
    ];
    for (text, label, reason) in table {
        let verdict = check(&open, text, *label);
        assert!(verdict.reason.contains(reason), "{text:?}: {verdict:?}");
    }
}

#[test]
fn unwatched_languages_are_other() {
    let triager = Triager::new(TriageRules {
        languages: vec!["en".into(), "pt-BR".into()],
        ..TriageRules::default()
    });
    let mut tagged = mention("mein Paket ist nie angekommen, das ist eine Frechheit");
    tagged.lang = Some("de-DE".into());
    let verdict = triager.triage(&tagged);
    assert_eq!(verdict.label, Label::Other);
    assert_eq!(verdict.reason, "language de not watched");
    let mut portuguese = mention("my order never arrived, refund please");
    portuguese.lang = Some("pt".into());
    assert_eq!(triager.triage(&portuguese).label, Label::Complaint);
    // No tag: detected, when the detector is sure.
    let detected = triager.triage(&mention(
        "Bonjour, ma commande n'est jamais arrivée et personne ne répond à mes messages depuis trois semaines, c'est vraiment inadmissible",
    ));
    assert_eq!(detected.reason, "language fr not watched");
    let english =
        mention("my order never arrived and nobody answers my messages, this is unacceptable");
    assert_eq!(triager.triage(&english).label, Label::Complaint);
}

#[test]
fn a_learned_model_takes_over_and_explains_itself() {
    // "widget" is neutral to the lexicon; the team's labels say it means trouble.
    let mut examples = Vec::new();
    for round in 0..20 {
        examples.push(example(&format!("the widget again {round}"), true));
        examples.push(example(
            &format!("the widget did a widget thing {round}"),
            true,
        ));
        examples.push(example(&format!("lovely morning walk {round}"), false));
        examples.push(example(&format!("see you at the meetup {round}"), false));
    }
    let model = LearnedModel::train(&examples, &TrainOptions::default());
    let default = Triager::new(TriageRules::default());
    let learned = Triager::new(TriageRules::default()).with_model(model.clone());
    assert_eq!(default.triage(&mention("the widget")).label, Label::Other);
    let verdict = learned.triage(&mention("the widget"));
    assert_eq!(verdict.label, Label::Complaint, "{verdict:?}");
    assert!(verdict.reason.contains("\"widget\""), "{verdict:?}");
    // The model survives a round trip through bytes, and refuses garbage.
    let bytes = model.to_bytes();
    let back = LearnedModel::from_bytes(&bytes).expect("round trip");
    assert_eq!(back.examples, 80);
    let features = Reading::new("the widget").features();
    assert_eq!(back.logit(&features), model.logit(&features));
    assert!(LearnedModel::from_bytes(&bytes[..100]).is_err());
    assert!(LearnedModel::from_bytes(b"not a model").is_err());
    // A model of another feature version is refused by name.
    let mut older = bytes.clone();
    older[8..12].copy_from_slice(&(model::FEATURE_VERSION - 1).to_le_bytes());
    assert!(matches!(
        LearnedModel::from_bytes(&older),
        Err(ModelError::OtherVersion { found }) if found == model::FEATURE_VERSION - 1
    ));
    assert_eq!(model::saved_examples(&older), Some(80));
    assert_eq!(model::saved_examples(b"not a model"), None);
    // How many CSV rows it used rides in a trailer; a model without one reads as unknown.
    assert_eq!(back.file_rows, None);
    let mut with_rows = model.clone();
    with_rows.file_rows = Some(40);
    let bytes = with_rows.to_bytes();
    let back = LearnedModel::from_bytes(&bytes).expect("round trip with the trailer");
    assert_eq!((back.examples, back.file_rows), (80, Some(40)));
    assert_eq!(back.logit(&features), model.logit(&features));
    assert!(LearnedModel::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    let mut bad_tag = bytes.clone();
    let at = bad_tag.len() - 16;
    bad_tag[at] ^= 1;
    assert!(LearnedModel::from_bytes(&bad_tag).is_err());
}
