//! Triage end to end: `eval` on a small hand-written fixture gives the expected metrics, and
//! the team's "Not a complaint" clicks become labels that `train` turns into a model that
//! changes a prediction.

use std::path::PathBuf;

use serde_json::json;

use mentiondesk::config;
use mentiondesk::domain::{Author, Label, Mention, MentionKind, Network};
use mentiondesk::store::Store;
use mentiondesk::training::{build_triager, evaluate_file, train, MODEL_NAME};

use crate::helpers::{bsky, card_of, TestApp};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn eval_on_the_fixture_gives_the_expected_metrics() {
    let (dataset, evaluation) =
        evaluate_file(&fixture("triage-eval.csv"), 5, false).expect("eval runs");
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    assert_eq!((evaluation.rows, evaluation.complaints), (40, 20));
    let learned = &evaluation.learned;
    assert_eq!(
        (
            learned.true_positives,
            learned.false_negatives,
            learned.false_positives,
            learned.true_negatives
        ),
        (18, 2, 1, 19),
        "{evaluation}"
    );
    // F1 = 2TP / (2TP + FP + FN) per class: 36/39 for complaints, 38/41 for the others.
    let expected_macro_f1 = (36.0 / 39.0 + 38.0 / 41.0) / 2.0;
    assert!(
        (learned.macro_f1 - expected_macro_f1).abs() < 1e-9,
        "{evaluation}"
    );
    let default = &evaluation.default;
    assert_eq!(
        (
            default.true_positives,
            default.false_negatives,
            default.false_positives,
            default.true_negatives
        ),
        (17, 3, 1, 19),
        "{evaluation}"
    );
    assert!((default.accuracy - 0.9).abs() < 1e-9, "{evaluation}");
    assert!(default.roc_auc > 0.9, "{evaluation}");
    // The same run twice gives the same numbers: folds and shuffles are seeded.
    let (_, again) = evaluate_file(&fixture("triage-eval.csv"), 5, false).expect("eval runs");
    assert_eq!(again.learned, evaluation.learned);

    let (_, domain) =
        evaluate_file(&fixture("triage-eval.csv"), 5, true).expect("domain-only eval runs");
    assert_eq!((domain.rows, domain.complaints), (32, 20));

    let (labelled, _) =
        evaluate_file(&fixture("triage-labels.csv"), 2, false).expect("headered csv reads");
    assert_eq!(labelled.rows.len(), 5);
    let refused = evaluate_file(&fixture("triage-labels.csv"), 2, true).unwrap_err();
    assert!(format!("{refused:#}").contains("--domain-only needs a domain column"));
}

fn mention(text: &str) -> Mention {
    Mention {
        network: Network::Bluesky,
        source: "demo".into(),
        id: "new".into(),
        url: "https://bsky.app/x".into(),
        author: Author {
            id: "did:plc:someone".into(),
            handle: "someone.bsky.social".into(),
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

#[tokio::test]
async fn not_a_complaint_clicks_train_a_model_that_changes_a_prediction() {
    // The quiz-night promotion reads like a complaint to the lexicon ("still waiting",
    // "again", "can't"); the team says otherwise, click by click.
    let promo = |n: usize| {
        format!(
            "@acme.bsky.social still waiting for quiz night {n} again, can't wait for round {n}!"
        )
    };
    let mut app = TestApp::spawn_with("[triage]\nmin_labels = 20").await;
    let posts: Vec<_> = (1..=8)
        .map(|n| {
            bsky(
                &format!("q{n}"),
                &format!("fan{n}.bsky.social"),
                &promo(n),
                None,
            )
        })
        .collect();
    app.post(&posts);
    app.wait_for("mentions", |messages| {
        (1..=8).all(|case| card_of(messages, case).is_some())
    })
    .await;
    for case in 1..=8 {
        let dismiss = app.button(case, "dismiss").await;
        let (status, body) = app.act("Bo", &dismiss, json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    app.stop().await;

    let settings = config::parse(&app.config, &|_| None, app.dir.path()).expect("config");
    let store = Store::open(&settings.store.path.join("sled")).expect("store opens");
    let labels: Vec<_> = store.labels().collect::<Result<_, _>>().expect("labels");
    assert_eq!(labels.len(), 8);
    assert!(labels
        .iter()
        .all(|label| label.label == Label::Other && !label.by.is_empty()));

    let newcomer = mention(&promo(9));
    let before = build_triager(&settings, &store).triage(&newcomer);
    assert_eq!(before.label, Label::Complaint, "{before:?}");

    let report = train(&store, Some(&fixture("triage-eval.csv")))
        .await
        .expect("training works");
    assert_eq!((report.from_store, report.from_file), (8, 40));
    assert_eq!(report.complaints, 20);

    let triager = build_triager(&settings, &store);
    assert!(triager.model().is_some(), "48 examples >= min_labels 20");
    let after = triager.triage(&newcomer);
    assert_ne!(after.label, Label::Complaint, "{after:?}");
    assert!(!triager.wants_card(&after));
    // A real complaint still is one.
    let complaint = triager.triage(&mention(
        "@acme.bsky.social my parcel never arrived and nobody answers, I want a refund",
    ));
    assert_eq!(complaint.label, Label::Complaint, "{complaint:?}");
    assert!(
        complaint.reason.starts_with("learned model"),
        "{complaint:?}"
    );

    // Below min_labels the default stays in charge.
    let strict = config::parse(
        &app.config.replace("min_labels = 20", "min_labels = 1000"),
        &|_| None,
        app.dir.path(),
    )
    .expect("config");
    assert!(build_triager(&strict, &store).model().is_none());

    // A model saved by the previous build (feature version 2) is refused, not misread: the
    // default takes over until `train` runs again, which replaces it cleanly.
    let mut old = store.model(MODEL_NAME).expect("read").expect("saved");
    old[8..12].copy_from_slice(&2u32.to_le_bytes());
    store.put_model(MODEL_NAME, &old).await.expect("save");
    let fallback = build_triager(&settings, &store);
    assert!(fallback.model().is_none());
    assert_eq!(fallback.triage(&newcomer).label, Label::Complaint);
    train(&store, Some(&fixture("triage-eval.csv")))
        .await
        .expect("retraining works");
    let retrained = build_triager(&settings, &store);
    assert!(retrained.model().is_some());
    assert_ne!(retrained.triage(&newcomer).label, Label::Complaint);
}
