//! Training and evaluating triage: the IO around the pure classifier in `pipeline/triage/`.
//!
//! `train` gathers the team's labels from the store ("Not a complaint" and "Mark as complaint"
//! clicks, replies sent)
//! and/or a labelled CSV, trains the learned model and saves it in the store; `build_triager`
//! gives the pipeline the learned model once it was trained on `[triage].min_labels` examples,
//! and the built-in default otherwise. `evaluate_file` is `mentiondesk eval`.
//!
//! [`Retrainer`] is the running bot's own training: every [`RECHECK_EVERY`] (and at start) it
//! counts the store's labels and, when [`retrain_due`] says so, retrains from them on the
//! blocking pool, saves the model and swaps a new triager into the pipeline through a
//! `watch` channel (the pipeline reads it once per round). A model trained with a CSV
//! (`train --data`) records how many file rows it used and is only replaced when this build
//! cannot use it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::Label;
use crate::metrics::Metrics;
use crate::pipeline::triage::eval::{self, Dataset, Evaluation};
use crate::pipeline::triage::model::saved_examples;
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
    load_triager(settings, store).0
}

/// [`build_triager`], with what the store's saved model is.
fn load_triager(settings: &Settings, store: &Store) -> (Triager, SavedModel) {
    let triager = Triager::new(triage_rules(settings));
    let bytes = match store.model(MODEL_NAME) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            tracing::info!(
                labels = store.label_count(),
                "Triage uses the built-in default (no learned model yet)"
            );
            return (triager, SavedModel::None);
        }
        Err(error) => {
            tracing::warn!(error = %error, "Cannot read the learned triage model; using the built-in default");
            return (triager, SavedModel::Unreadable);
        }
    };
    match LearnedModel::from_bytes(&bytes) {
        Ok(model) => {
            let saved = SavedModel::Usable {
                examples: model.examples,
                file_rows: model.file_rows,
            };
            if model.examples >= settings.triage.min_labels {
                tracing::info!(examples = model.examples, "Triage uses the learned model");
                (triager.with_model(model), saved)
            } else {
                tracing::info!(
                    examples = model.examples,
                    min_labels = settings.triage.min_labels,
                    "Triage uses the built-in default (the learned model has too few examples)"
                );
                (triager, saved)
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, "Cannot read the learned triage model; using the built-in default");
            (
                triager,
                SavedModel::Unusable {
                    examples: saved_examples(&bytes),
                },
            )
        }
    }
}

/// The store's saved model, as far as retraining is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedModel {
    /// No model saved.
    None,
    /// The store could not be read (retraining waits: it would overwrite what it can't see).
    Unreadable,
    /// A model this build cannot use (another feature version, or not a model), with the
    /// number of examples its header gives.
    Unusable {
        /// Examples it was trained on, when the header says.
        examples: Option<u64>,
    },
    /// A model this build uses.
    Usable {
        /// Examples it was trained on.
        examples: u64,
        /// How many came from a CSV file (`None`: saved before this was recorded).
        file_rows: Option<u64>,
    },
}

/// Why the running bot retrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrainReason {
    /// There is no saved model.
    NoModel,
    /// The saved model can't be used by this build.
    UnusableModel,
    /// Enough labels arrived since the saved model was trained.
    NewLabels(u64),
}

impl RetrainReason {
    /// The reason as a metric label.
    pub fn as_str(&self) -> &'static str {
        match self {
            RetrainReason::NoModel => "no_model",
            RetrainReason::UnusableModel => "unusable_model",
            RetrainReason::NewLabels(_) => "new_labels",
        }
    }
}

/// Whether the running bot should retrain from the store's `labels`: never below
/// `min_labels` labels nor with `retrain_after` 0; then when there is no model, or an unusable
/// one, or `retrain_after` labels arrived since a model trained on the store alone. A model
/// that used CSV rows (or may have: saved before they were recorded) is left alone.
pub fn retrain_due(
    saved: SavedModel,
    labels: u64,
    min_labels: u64,
    retrain_after: u64,
) -> Option<RetrainReason> {
    if retrain_after == 0 || labels < min_labels {
        return None;
    }
    match saved {
        SavedModel::None => Some(RetrainReason::NoModel),
        SavedModel::Unreadable => None,
        SavedModel::Unusable { .. } => Some(RetrainReason::UnusableModel),
        SavedModel::Usable {
            examples,
            file_rows: Some(0),
        } => {
            let new = labels.saturating_sub(examples);
            // A model below min_labels is not used: retrain as soon as the labels allow.
            (new >= retrain_after || examples < min_labels).then_some(RetrainReason::NewLabels(new))
        }
        SavedModel::Usable { .. } => None,
    }
}

/// How often the running bot counts the labels, so also the most often it retrains.
pub const RECHECK_EVERY: Duration = Duration::from_secs(10 * 60);

/// The running bot's retraining task (see the module docs).
pub struct Retrainer {
    store: Store,
    rules: TriageRules,
    min_labels: u64,
    retrain_after: u64,
    saved: SavedModel,
    triager: watch::Sender<Arc<Triager>>,
    metrics: Metrics,
    /// The label count at the last check.
    last_count: Option<u64>,
    /// The "kept the CSV model" note was logged.
    noted_kept: bool,
}

impl Retrainer {
    /// Loads the saved model (as [`build_triager`] does); nothing runs yet.
    pub fn new(settings: &Settings, store: &Store, metrics: Metrics) -> Retrainer {
        let (triager, saved) = load_triager(settings, store);
        let (triager, _) = watch::channel(Arc::new(triager));
        Retrainer {
            store: store.clone(),
            rules: triage_rules(settings),
            min_labels: settings.triage.min_labels,
            retrain_after: settings.triage.retrain_after,
            saved,
            triager,
            metrics,
            last_count: None,
            noted_kept: false,
        }
    }

    /// The pipeline's view of the triager, swapped on each retrain.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Triager>> {
        self.triager.subscribe()
    }

    /// Checks at once, then every [`RECHECK_EVERY`], until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        if self.retrain_after == 0 {
            tracing::info!("Automatic triage retraining is off ([triage].retrain_after = 0)");
            return;
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.check() => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RECHECK_EVERY) => {}
            }
        }
    }

    /// Counts the labels and retrains when due (nothing when the count did not change).
    async fn check(&mut self) {
        let store = self.store.clone();
        let count = match tokio::task::spawn_blocking(move || store.label_count()).await {
            Ok(count) => count as u64,
            Err(error) => {
                tracing::error!(error = %error, "Cannot count the team's labels");
                return;
            }
        };
        if self.last_count == Some(count) {
            return;
        }
        self.last_count = Some(count);
        let Some(reason) = retrain_due(self.saved, count, self.min_labels, self.retrain_after)
        else {
            self.note_kept(count);
            return;
        };
        let store = self.store.clone();
        let trained = tokio::task::spawn_blocking(move || {
            let texts = store_texts(&store)?;
            let from_store = texts.len();
            fit(texts, from_store, 0)
        })
        .await;
        let (model, report) = match trained {
            Ok(Ok(trained)) => trained,
            Ok(Err(error)) => {
                tracing::info!(
                    labels = count,
                    reason = reason.as_str(),
                    "Triage not retrained: {error:#}"
                );
                return;
            }
            Err(error) => {
                tracing::error!(error = %error, "Triage retraining failed");
                return;
            }
        };
        if let Err(error) = self.store.put_model(MODEL_NAME, &model.to_bytes()).await {
            tracing::error!(error = %error, "Cannot save the retrained triage model; the running one stays");
            return;
        }
        let previous = self.saved;
        self.saved = SavedModel::Usable {
            examples: model.examples,
            file_rows: model.file_rows,
        };
        let mut triager = Triager::new(self.rules.clone());
        if model.examples >= self.min_labels {
            triager = triager.with_model(model);
        }
        self.triager.send_replace(Arc::new(triager));
        self.metrics.triage_retrained(reason.as_str());
        tracing::info!(
            examples = report.examples(),
            complaints = report.complaints,
            ms = report.elapsed.as_millis() as u64,
            reason = reason.as_str(),
            "Triage model retrained from {} team labels and swapped in",
            report.from_store
        );
        if let SavedModel::Unusable {
            examples: Some(examples),
        } = previous
        {
            let csv_rows = examples.saturating_sub(report.from_store as u64);
            if csv_rows > 0 {
                tracing::warn!(
                    "Retrained from {} team labels; the previous model (unusable by this build) also used at least {csv_rows} rows of a CSV: run `mentiondesk train --data FILE.csv` again to include them",
                    report.from_store
                );
            }
        }
    }

    /// Logs once why a usable model that used (or may have used) a CSV is kept.
    fn note_kept(&mut self, labels: u64) {
        let SavedModel::Usable {
            examples,
            file_rows,
        } = self.saved
        else {
            return;
        };
        if self.noted_kept || file_rows == Some(0) || labels < self.min_labels {
            return;
        }
        self.noted_kept = true;
        match file_rows {
            Some(rows) => tracing::info!(
                examples,
                csv_rows = rows,
                labels,
                "The learned model was trained with {rows} rows of a CSV the store doesn't hold, so the bot doesn't retrain it by itself: run `mentiondesk train --data FILE.csv` (bot stopped) to include new labels"
            ),
            None => tracing::info!(
                examples,
                labels,
                "The learned model predates automatic retraining (it may include CSV rows), so the bot doesn't retrain it by itself: run `mentiondesk train` once (with --data if it used a CSV)"
            ),
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
    let mut texts = store_texts(store)?;
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
    let (model, report) = fit(texts, from_store, skipped)?;
    store
        .put_model(MODEL_NAME, &model.to_bytes())
        .await
        .context("cannot save the model in the store")?;
    Ok(report)
}

/// The store's labels as (text, complaint).
fn store_texts(store: &Store) -> anyhow::Result<Vec<(String, bool)>> {
    let mut texts = Vec::new();
    for label in store.labels() {
        let label = label.context("cannot read the team's labels")?;
        texts.push((label.text, label.label == Label::Complaint));
    }
    Ok(texts)
}

/// Trains on `texts`, of which the first `from_store` are the store's labels and the rest CSV
/// rows (recorded in the model). CPU-bound: call it off the async threads in the bot.
fn fit(
    texts: Vec<(String, bool)>,
    from_store: usize,
    skipped: usize,
) -> anyhow::Result<(LearnedModel, TrainReport)> {
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
    let mut model = LearnedModel::train(&examples, &TrainOptions::default());
    model.file_rows = Some((texts.len() - from_store) as u64);
    let elapsed = started.elapsed();
    let right = examples
        .iter()
        .filter(|example| (model.probability(&example.features) >= 0.5) == example.complaint)
        .count();
    let report = TrainReport {
        from_store,
        from_file: texts.len() - from_store,
        skipped,
        complaints,
        elapsed,
        training_accuracy: right as f64 / examples.len() as f64,
    };
    Ok((model, report))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retraining_is_due_only_when_the_rules_say_so() {
        let store_only = |examples| SavedModel::Usable {
            examples,
            file_rows: Some(0),
        };
        // Below min_labels, or switched off: never.
        assert_eq!(retrain_due(SavedModel::None, 19, 20, 50), None);
        assert_eq!(retrain_due(SavedModel::None, 500, 20, 0), None);
        // No model, or one this build can't use: as soon as min_labels is reached.
        assert_eq!(
            retrain_due(SavedModel::None, 20, 20, 50),
            Some(RetrainReason::NoModel)
        );
        assert_eq!(
            retrain_due(
                SavedModel::Unusable {
                    examples: Some(900)
                },
                20,
                20,
                50
            ),
            Some(RetrainReason::UnusableModel)
        );
        // A store-only model: after retrain_after new labels.
        assert_eq!(retrain_due(store_only(100), 149, 20, 50), None);
        assert_eq!(
            retrain_due(store_only(100), 150, 20, 50),
            Some(RetrainReason::NewLabels(50))
        );
        // A store-only model too small to be used: as soon as the labels allow.
        assert_eq!(
            retrain_due(store_only(10), 20, 20, 50),
            Some(RetrainReason::NewLabels(10))
        );
        // A model with CSV rows, or of unknown origin, or an unreadable store: left alone.
        let csv = SavedModel::Usable {
            examples: 140,
            file_rows: Some(40),
        };
        assert_eq!(retrain_due(csv, 10_000, 20, 50), None);
        let unknown = SavedModel::Usable {
            examples: 140,
            file_rows: None,
        };
        assert_eq!(retrain_due(unknown, 10_000, 20, 50), None);
        assert_eq!(retrain_due(SavedModel::Unreadable, 10_000, 20, 50), None);
    }
}
