//! Training and evaluating triage: the IO around the pure classifier in `pipeline/triage/`.
//!
//! `train` gathers the team's labels from the store ("Not a complaint" and "Mark as complaint"
//! clicks, replies sent)
//! and/or a labelled CSV, trains the learned model and saves it in the store; `build_triager`
//! gives the pipeline the learned model once it was trained on `[triage].min_labels` examples,
//! and the built-in default otherwise. `evaluate_file` is `mentiondesk eval`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::Settings;
use crate::domain::Label;
use crate::pipeline::triage::eval::{self, Dataset, Evaluation};
use crate::pipeline::triage::{example, Example, LearnedModel, TrainOptions};
use crate::pipeline::{TriageRules, Triager};
use crate::store::Store;

/// The store key of the learned triage model.
pub const MODEL_NAME: &str = "triage";

/// The triage rules from config.
pub fn triage_rules(settings: &Settings) -> TriageRules {
    let triage = &settings.triage;
    let mut include_keywords = triage.include_keywords.clone();
    include_keywords.retain(|keyword| !keyword.trim().is_empty());
    TriageRules {
        include_keywords,
        exclude_keywords: triage.exclude_keywords.clone(),
        include_patterns: triage.include_patterns.clone(),
        exclude_patterns: triage.exclude_patterns.clone(),
        ignore_authors: triage.ignore_authors.clone(),
        languages: triage.languages.clone(),
        card_labels: triage
            .card_labels
            .iter()
            .filter_map(|label| label.parse::<Label>().ok())
            .collect(),
        min_score: triage.min_score,
    }
}

/// The pipeline's triager: the config rules, with the saved learned model when it was trained
/// on at least `[triage].min_labels` examples, the built-in default otherwise. A model that
/// cannot be read is logged and ignored (the default takes over; `train` again to fix it).
pub fn build_triager(settings: &Settings, store: &Store) -> Triager {
    let triager = Triager::new(triage_rules(settings));
    let bytes = match store.model(MODEL_NAME) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            tracing::info!(
                labels = store.label_count(),
                "Triage uses the built-in default (no learned model yet)"
            );
            return triager;
        }
        Err(error) => {
            tracing::warn!(error = %error, "Cannot read the learned triage model; using the built-in default");
            return triager;
        }
    };
    match LearnedModel::from_bytes(&bytes) {
        Ok(model) if model.examples >= settings.triage.min_labels => {
            tracing::info!(examples = model.examples, "Triage uses the learned model");
            triager.with_model(model)
        }
        Ok(model) => {
            tracing::info!(
                examples = model.examples,
                min_labels = settings.triage.min_labels,
                "Triage uses the built-in default (the learned model has too few examples)"
            );
            triager
        }
        Err(error) => {
            tracing::warn!(error = %error, "Cannot read the learned triage model; using the built-in default");
            triager
        }
    }
}

/// What a training run did.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Labels read from the store.
    pub from_store: usize,
    /// Rows read from the CSV.
    pub from_file: usize,
    /// CSV records skipped.
    pub skipped: usize,
    /// Complaints among all examples.
    pub complaints: usize,
    /// Time spent training (features included).
    pub elapsed: Duration,
    /// The model's accuracy on its own training data (a sanity check, not an evaluation).
    pub training_accuracy: f64,
}

impl TrainReport {
    /// Every example used.
    pub fn examples(&self) -> usize {
        self.from_store + self.from_file
    }
}

/// Trains the learned model from the store's labels and/or a CSV and saves it in the store.
pub async fn train(store: &Store, data: Option<&Path>) -> anyhow::Result<TrainReport> {
    let mut texts: Vec<(String, bool)> = Vec::new();
    for label in store.labels() {
        let label = label.context("cannot read the team's labels")?;
        texts.push((label.text, label.label == Label::Complaint));
    }
    let from_store = texts.len();
    let mut skipped = 0;
    if let Some(path) = data {
        let dataset = load_dataset(path)?;
        skipped = dataset.skipped.len();
        texts.extend(
            dataset
                .rows
                .into_iter()
                .map(|row| (row.text, row.complaint)),
        );
    }
    let complaints = texts.iter().filter(|(_, complaint)| *complaint).count();
    if complaints == 0 || complaints == texts.len() {
        anyhow::bail!(
            "training needs complaints and non-complaints, got {} examples of which {complaints} complaints: label more posts (reply to complaints, click \"Not a complaint\") or pass --data FILE.csv",
            texts.len()
        );
    }
    let started = Instant::now();
    let examples: Vec<Example> = texts
        .iter()
        .map(|(text, complaint)| example(text, *complaint))
        .collect();
    let model = LearnedModel::train(&examples, &TrainOptions::default());
    let elapsed = started.elapsed();
    let right = examples
        .iter()
        .filter(|example| (model.probability(&example.features) >= 0.5) == example.complaint)
        .count();
    store
        .put_model(MODEL_NAME, &model.to_bytes())
        .await
        .context("cannot save the model in the store")?;
    Ok(TrainReport {
        from_store,
        from_file: texts.len() - from_store,
        skipped,
        complaints,
        elapsed,
        training_accuracy: right as f64 / examples.len() as f64,
    })
}

/// Reads a labelled CSV (either format, see `pipeline::triage::eval`).
pub fn load_dataset(path: &Path) -> anyhow::Result<Dataset> {
    let content =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let dataset = eval::parse_csv(&content);
    for (line, reason) in dataset.skipped.iter().take(5) {
        tracing::warn!(file = %path.display(), line, reason = %reason, "Skipped a record");
    }
    if dataset.rows.is_empty() {
        anyhow::bail!("{}: no labelled rows", path.display());
    }
    Ok(dataset)
}

/// `mentiondesk eval`: cross-validates the learned model and scores the default on a file.
pub fn evaluate_file(
    path: &Path,
    folds: usize,
    domain_only: bool,
) -> anyhow::Result<(Dataset, Evaluation)> {
    evaluate_file_seeded(path, folds, domain_only, TrainOptions::default().seed)
}

/// [`evaluate_file`] with another seed for the folds and the training shuffles.
pub fn evaluate_file_seeded(
    path: &Path,
    folds: usize,
    domain_only: bool,
    seed: u64,
) -> anyhow::Result<(Dataset, Evaluation)> {
    let mut dataset = load_dataset(path)?;
    if domain_only {
        if !dataset.has_domains {
            anyhow::bail!(
                "{}: --domain-only needs a domain column (the complaints format, or a \"domain\" header)",
                path.display()
            );
        }
        dataset.rows.retain(|row| row.in_domain());
    }
    let complaints = dataset.rows.iter().filter(|row| row.complaint).count();
    let smallest_class = complaints.min(dataset.rows.len() - complaints);
    if folds < 2 || smallest_class < folds {
        anyhow::bail!(
            "{folds}-fold cross-validation needs at least 2 folds and {folds} examples of each class; the data has {complaints} complaints and {} others",
            dataset.rows.len() - complaints
        );
    }
    let options = TrainOptions {
        seed,
        ..TrainOptions::default()
    };
    let evaluation = eval::evaluate(&dataset.rows, folds, &options);
    Ok((dataset, evaluation))
}
