//! Triage end to end: `eval` on a small hand-written fixture gives the expected metrics, and
//! the team's "Not a complaint" clicks become labels that `train` turns into a model that
//! changes a prediction; the running bot retrains by itself (and leaves a CSV-trained model
//! alone).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use mentiondesk::config;
use mentiondesk::domain::{Author, Label, Mention, MentionKind, Network, PostRef};
use mentiondesk::store::{LabelRecord, Store};
use mentiondesk::training::{self, build_triager, evaluate_file, train, MODEL_NAME};

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
    let mut app = TestApp::spawn_with("[triage]\nmin_labels = 20").await;
    dismiss_eight_promos(&mut app).await;
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

// --- The running bot retrains by itself ---

/// The quiz-night promotion the default cards as a complaint ("still waiting", "again").
fn promo(n: usize) -> String {
    format!("@acme.bsky.social still waiting for quiz night {n} again, can't wait for round {n}!")
}

/// Posts the promotion from eight fans (the default cards each as cases 1 to 8) and has Bo
/// click "Not a complaint" on every card: eight labels that say otherwise.
async fn dismiss_eight_promos(app: &mut TestApp) {
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
}

/// Real complaints, each a little different.
fn grievance(n: usize) -> String {
    let what = [
        "my parcel never arrived",
        "the app crashes at checkout",
        "I was charged twice",
        "support ignores my emails",
        "the refund is still missing",
    ][n % 5];
    format!("@acme.bsky.social {what} again, order {n}, this is unacceptable")
}

/// A temp dir whose store holds `complaints` complaint labels and `promos` dismissed promos.
async fn seeded(complaints: usize, promos: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("store/sled")).expect("store opens");
    add_labels(&store, 0, complaints, promos).await;
    (dir, store)
}

/// Adds labels to `store` (post ids from `first` on).
async fn add_labels(store: &Store, first: usize, complaints: usize, promos: usize) {
    let texts = (0..complaints)
        .map(|n| (grievance(first + n), Label::Complaint))
        .chain((0..promos).map(|n| (promo(first + 100 + n), Label::Other)));
    for (index, (text, label)) in texts.enumerate() {
        let post = PostRef::new(Network::Bluesky, format!("seed{}", first + index));
        store
            .transact(|tx| {
                tx.put_label(
                    &post,
                    &LabelRecord {
                        text: text.clone(),
                        label,
                        by: "ana".into(),
                        at: chrono::Utc::now(),
                    },
                )
            })
            .expect("label stored");
    }
    store.flush().await.expect("flush");
}

/// `/metrics`' line for retrains with `reason`, if any.
async fn retrains(app: &TestApp, reason: &str) -> Option<String> {
    let text = reqwest::get(format!("{}/metrics", app.http))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    let prefix = format!("mentiondesk_triage_retrains_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find(|line| line.starts_with(&prefix))
        .map(str::to_string)
}

/// Waits (tokio's clock, paused or not) until one retrain with `reason` was counted.
async fn wait_retrained(app: &TestApp, reason: &str, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(line) = retrains(app, reason).await {
            assert!(line.ends_with(" 1"), "{line}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retrain ({reason}) within {limit:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The console's skipped list, newest first.
async fn skipped(app: &TestApp) -> Vec<serde_json::Value> {
    reqwest::get(format!("{}/api/skipped", app.console))
        .await
        .expect("console answers")
        .json()
        .await
        .expect("skipped json")
}

/// Posts a promo and a complaint; the complaint gets case `case`, the promo is skipped by the
/// learned model (no card).
async fn promo_is_skipped_by_the_learned_model(app: &TestApp, n: usize, case: u64) {
    app.post(&[
        bsky(&format!("p{n}"), "fan.bsky.social", &promo(n), None),
        bsky(&format!("g{n}"), "jo.bsky.social", &grievance(n), None),
    ]);
    let messages = app
        .wait_for("mentions", |messages| card_of(messages, case).is_some())
        .await;
    assert_eq!(messages.len() as u64, case, "the promo has no card");
    let skipped = skipped(app).await;
    let post = skipped
        .iter()
        .find(|post| {
            post["text"]
                .as_str()
                .is_some_and(|t| t.contains(&format!("quiz night {n} ")))
        })
        .unwrap_or_else(|| panic!("the promo is skipped: {skipped:?}"));
    assert!(
        post["reason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("learned model")),
        "{post}"
    );
}

fn saved_model(store: &Store) -> Option<mentiondesk::pipeline::triage::LearnedModel> {
    let bytes = store.model(MODEL_NAME).expect("read")?;
    Some(mentiondesk::pipeline::triage::LearnedModel::from_bytes(&bytes).expect("usable"))
}

fn reopen(app: &TestApp) -> Store {
    let settings = config::parse(&app.config, &|_| None, app.dir.path()).expect("config");
    Store::open(&settings.store.path.join("sled")).expect("store opens")
}

/// A bot without a model: the team's clicks bring the store to min_labels, and within the
/// recheck interval the bot retrains by itself and swaps the model in, no restart: the promo
/// the default carded is now skipped by the learned model, a complaint still gets a card.
#[tokio::test(start_paused = true)]
async fn the_running_bot_retrains_from_clicks_and_swaps_the_model_in() {
    let (dir, store) = seeded(10, 0).await;
    drop(store);
    let mut app = TestApp::spawn_in(dir, "[triage]\nmin_labels = 16\nretrain_after = 5").await;
    dismiss_eight_promos(&mut app).await;
    // 18 labels now; nothing retrained yet (the start check saw 10 < 16).
    assert_eq!(retrains(&app, "no_model").await, None);
    wait_retrained(
        &app,
        "no_model",
        training::RECHECK_EVERY + Duration::from_secs(60),
    )
    .await;
    promo_is_skipped_by_the_learned_model(&app, 9, 9).await;
    app.stop().await;

    let store = reopen(&app);
    let model = saved_model(&store).expect("the retrained model is saved");
    assert_eq!(
        (model.examples, model.complaints, model.file_rows),
        (18, 10, Some(0))
    );
}

/// A model of the previous feature version is replaced as soon as the bot starts.
#[tokio::test]
async fn an_older_version_model_is_replaced_on_start() {
    let (dir, store) = seeded(10, 8).await;
    train(&store, None).await.expect("training works");
    let mut old = store.model(MODEL_NAME).expect("read").expect("saved");
    old[8..12].copy_from_slice(&2u32.to_le_bytes());
    store.put_model(MODEL_NAME, &old).await.expect("save");
    drop(store);
    let mut app = TestApp::spawn_in(dir, "[triage]\nmin_labels = 16").await;
    wait_retrained(&app, "unusable_model", Duration::from_secs(30)).await;
    promo_is_skipped_by_the_learned_model(&app, 9, 1).await;
    app.stop().await;
    let model = saved_model(&reopen(&app)).expect("replaced by a usable model");
    assert_eq!((model.examples, model.file_rows), (18, Some(0)));
}

/// Below min_labels the bot trains nothing, however long it runs.
#[tokio::test(start_paused = true)]
async fn below_min_labels_nothing_is_retrained() {
    let (dir, store) = seeded(10, 8).await;
    drop(store);
    let mut app = TestApp::spawn_in(dir, "[triage]\nmin_labels = 30\nretrain_after = 5").await;
    tokio::time::sleep(training::RECHECK_EVERY * 3).await;
    for reason in ["no_model", "unusable_model", "new_labels"] {
        assert_eq!(retrains(&app, reason).await, None);
    }
    app.stop().await;
    assert!(reopen(&app).model(MODEL_NAME).expect("read").is_none());
}

/// A model trained with `--data` holds CSV rows the store doesn't: new labels don't make the
/// bot replace it with a store-only model.
#[tokio::test(start_paused = true)]
async fn a_model_trained_with_a_csv_is_not_replaced_automatically() {
    let (dir, store) = seeded(10, 8).await;
    let report = train(&store, Some(&fixture("triage-eval.csv")))
        .await
        .expect("training works");
    assert_eq!((report.from_store, report.from_file), (18, 40));
    let trained = store.model(MODEL_NAME).expect("read").expect("saved");
    assert_eq!(saved_model(&store).expect("usable").file_rows, Some(40));
    // Sixty labels more than the model saw: more than its examples, CSV rows included, and
    // twelve times retrain_after.
    add_labels(&store, 1000, 30, 30).await;
    drop(store);
    let mut app = TestApp::spawn_in(dir, "[triage]\nmin_labels = 16\nretrain_after = 5").await;
    tokio::time::sleep(training::RECHECK_EVERY * 3).await;
    for reason in ["no_model", "unusable_model", "new_labels"] {
        assert_eq!(retrains(&app, reason).await, None);
    }
    app.stop().await;
    assert_eq!(
        reopen(&app).model(MODEL_NAME).expect("read"),
        Some(trained),
        "the CSV model is kept"
    );
}
