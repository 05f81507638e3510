//! Evaluation: labelled CSVs, stratified k-fold cross-validation of the learned model, the
//! zero-shot score of the built-in default, and the metrics `mentiondesk eval` prints.
//!
//! Pure: the caller reads the file. Two formats are read:
//! - the complaints format, no header: `id,text,label,domain` with label `1`/`0` (the domains
//!   `random_tweet` and `random_reply` are the non-domain rows);
//! - a headered CSV with `text` and `label` columns (and optionally `domain`); labels are
//!   `complaint`/`1`/`true`/`yes` for a complaint, and `other`, `question`, `praise`,
//!   `0`/`false`/`no` (or `not_complaint`) otherwise.
//!
//! Metrics are for complaint versus not-complaint: that is the decision that opens a card.

use std::fmt;
use std::time::{Duration, Instant};

use super::model::{shuffle, Example, LearnedModel, TrainOptions};
use super::Reading;

/// One labelled post.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The text.
    pub text: String,
    /// Whether it is a complaint.
    pub complaint: bool,
    /// Its domain, when the file has one.
    pub domain: Option<String>,
}

impl Row {
    /// Whether the row is from one of the brand domains (not a random tweet or reply).
    pub fn in_domain(&self) -> bool {
        self.domain
            .as_deref()
            .is_some_and(|domain| !domain.starts_with("random_"))
    }
}

/// A parsed file: its rows and the lines that were skipped, with why.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// The rows.
    pub rows: Vec<Row>,
    /// (line, reason) for every record skipped.
    pub skipped: Vec<(usize, String)>,
    /// Whether the file had a domain column.
    pub has_domains: bool,
}

/// Parses either format (see the module docs). Malformed records are skipped and listed.
pub fn parse_csv(content: &str) -> Dataset {
    let mut records = records(content).peekable();
    let mut dataset = Dataset::default();
    let headered = records.peek().and_then(|(_, fields)| {
        let find = |name: &str| {
            fields
                .iter()
                .position(|field| field.trim().eq_ignore_ascii_case(name))
        };
        Some((find("text")?, find("label")?, find("domain")))
    });
    let (text_at, label_at, domain_at) = match headered {
        Some(columns) => {
            records.next();
            columns
        }
        None => (1, 2, Some(3)),
    };
    dataset.has_domains = domain_at.is_some();
    for (line, fields) in records {
        if fields.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        let (Some(text), Some(label)) = (fields.get(text_at), fields.get(label_at)) else {
            dataset.skipped.push((
                line,
                format!("expected at least {} fields", text_at.max(label_at) + 1),
            ));
            continue;
        };
        let Some(complaint) = parse_label(label) else {
            dataset
                .skipped
                .push((line, format!("unknown label \"{}\"", label.trim())));
            continue;
        };
        if text.trim().is_empty() {
            dataset.skipped.push((line, "empty text".to_string()));
            continue;
        }
        dataset.rows.push(Row {
            text: text.clone(),
            complaint,
            domain: domain_at
                .and_then(|at| fields.get(at))
                .map(|domain| domain.trim().to_string()),
        });
    }
    dataset
}

fn parse_label(label: &str) -> Option<bool> {
    match label.trim().to_lowercase().as_str() {
        "1" | "complaint" | "true" | "yes" => Some(true),
        "0" | "other" | "question" | "praise" | "false" | "no" | "not_complaint"
        | "not complaint" => Some(false),
        _ => None,
    }
}

/// CSV records with the line each starts on: quoted fields may hold commas, doubled quotes
/// and line breaks.
fn records(content: &str) -> impl Iterator<Item = (usize, Vec<String>)> + '_ {
    let mut chars = content.chars().peekable();
    let mut line = 1;
    std::iter::from_fn(move || {
        chars.peek()?;
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                '"' if field.is_empty() => quoted = true,
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                '\r' if !quoted => {}
                '\n' => {
                    line += 1;
                    if quoted {
                        field.push('\n');
                    } else {
                        break;
                    }
                }
                other => field.push(other),
            }
        }
        fields.push(field);
        Some((start, fields))
    })
}

/// Assigns each row a fold, 0..k, keeping the classes' proportions in every fold.
/// Deterministic for a seed.
pub fn stratified_folds(labels: &[bool], folds: usize, seed: u64) -> Vec<usize> {
    let mut assignment = vec![0; labels.len()];
    let mut state = seed | 1;
    for class in [true, false] {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        shuffle(&mut members, &mut state);
        for (position, row) in members.into_iter().enumerate() {
            assignment[row] = position % folds;
        }
    }
    assignment
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClassScores {
    /// Of the posts predicted in the class, the share that are.
    pub precision: f64,
    /// Of the posts in the class, the share predicted so.
    pub recall: f64,
    /// Their harmonic mean.
    pub f1: f64,
}

/// Binary metrics, complaint being the positive class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Complaints predicted complaint.
    pub true_positives: usize,
    /// Non-complaints predicted complaint.
    pub false_positives: usize,
    /// Non-complaints predicted not.
    pub true_negatives: usize,
    /// Complaints predicted not.
    pub false_negatives: usize,
    /// Share right.
    pub accuracy: f64,
    /// Mean of the two classes' F1.
    pub macro_f1: f64,
    /// Area under the ROC curve of the scores.
    pub roc_auc: f64,
    /// The complaint class.
    pub complaint: ClassScores,
    /// The not-complaint class.
    pub not_complaint: ClassScores,
}

/// Computes the metrics of `scores` (probability of complaint) against `truth`, with 0.5 as
/// the decision threshold.
pub fn metrics(truth: &[bool], scores: &[f32]) -> Metrics {
    let mut m = Metrics::default();
    for (&actual, &score) in truth.iter().zip(scores) {
        match (actual, score >= 0.5) {
            (true, true) => m.true_positives += 1,
            (false, true) => m.false_positives += 1,
            (false, false) => m.true_negatives += 1,
            (true, false) => m.false_negatives += 1,
        }
    }
    let class = |hit: usize, false_alarm: usize, miss: usize| {
        let precision = ratio(hit, hit + false_alarm);
        let recall = ratio(hit, hit + miss);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        ClassScores {
            precision,
            recall,
            f1,
        }
    };
    m.complaint = class(m.true_positives, m.false_positives, m.false_negatives);
    m.not_complaint = class(m.true_negatives, m.false_negatives, m.false_positives);
    m.accuracy = ratio(m.true_positives + m.true_negatives, truth.len());
    m.macro_f1 = (m.complaint.f1 + m.not_complaint.f1) / 2.0;
    m.roc_auc = roc_auc(truth, scores);
    m
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The Mann-Whitney form of ROC AUC, ties counted half.
fn roc_auc(truth: &[bool], scores: &[f32]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = truth.iter().filter(|&&t| t).count();
    let negatives = truth.len() - positives;
    if positives == 0 || negatives == 0 {
        return 0.5;
    }
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        // Tied scores share the mean of their ranks (1-based).
        let mean_rank = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            if truth[index] {
                rank_sum += mean_rank;
            }
        }
        start = end + 1;
    }
    let positives_f = positives as f64;
    (rank_sum - positives_f * (positives_f + 1.0) / 2.0) / (positives_f * negatives as f64)
}

/// What [`evaluate`] found.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Rows evaluated.
    pub rows: usize,
    /// Complaints among them.
    pub complaints: usize,
    /// Folds.
    pub folds: usize,
    /// The learned model, predictions pooled over the folds.
    pub learned: Metrics,
    /// Each fold's macro F1.
    pub fold_macro_f1: Vec<f64>,
    /// The built-in default on every row, untrained.
    pub default: Metrics,
    /// The longest training of one fold.
    pub slowest_training: Duration,
}

/// Cross-validates the learned model over `folds` stratified folds and scores the default.
pub fn evaluate(rows: &[Row], folds: usize, options: &TrainOptions) -> Evaluation {
    let readings: Vec<Reading> = rows.iter().map(|row| Reading::new(&row.text)).collect();
    let truth: Vec<bool> = rows.iter().map(|row| row.complaint).collect();
    let examples: Vec<Example> = readings
        .iter()
        .zip(&truth)
        .map(|(reading, &complaint)| Example {
            features: reading.features(),
            complaint,
        })
        .collect();
    let default_scores: Vec<f32> = readings.iter().map(Reading::default_probability).collect();
    let assignment = stratified_folds(&truth, folds, options.seed);
    let mut learned_scores = vec![0.0; rows.len()];
    let mut fold_macro_f1 = Vec::with_capacity(folds);
    let mut slowest_training = Duration::ZERO;
    for fold in 0..folds {
        let train: Vec<Example> = examples
            .iter()
            .zip(&assignment)
            .filter(|(_, &f)| f != fold)
            .map(|(example, _)| example.clone())
            .collect();
        let started = Instant::now();
        let model = LearnedModel::train(&train, options);
        slowest_training = slowest_training.max(started.elapsed());
        let mut fold_truth = Vec::new();
        let mut fold_scores = Vec::new();
        for (index, example) in examples.iter().enumerate() {
            if assignment[index] == fold {
                let probability = model.probability(&example.features);
                learned_scores[index] = probability;
                fold_truth.push(truth[index]);
                fold_scores.push(probability);
            }
        }
        fold_macro_f1.push(metrics(&fold_truth, &fold_scores).macro_f1);
    }
    Evaluation {
        rows: rows.len(),
        complaints: truth.iter().filter(|&&t| t).count(),
        folds,
        learned: metrics(&truth, &learned_scores),
        fold_macro_f1,
        default: metrics(&truth, &default_scores),
        slowest_training,
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mean = self.fold_macro_f1.iter().sum::<f64>() / self.fold_macro_f1.len().max(1) as f64;
        let spread = (self
            .fold_macro_f1
            .iter()
            .map(|x| (x - mean).powi(2))
            .sum::<f64>()
            / self.fold_macro_f1.len().max(1) as f64)
            .sqrt();
        writeln!(
            f,
            "rows: {} ({} complaints, {} not)",
            self.rows,
            self.complaints,
            self.rows - self.complaints
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<30} {:>8} {:>8} {:>8}",
            "model", "accuracy", "macro F1", "ROC AUC"
        )?;
        let line = |f: &mut fmt::Formatter<'_>, name: &str, m: &Metrics| {
            writeln!(
                f,
                "{name:<30} {:>8.4} {:>8.4} {:>8.4}",
                m.accuracy, m.macro_f1, m.roc_auc
            )
        };
        line(
            f,
            &format!("learned ({}-fold CV)", self.folds),
            &self.learned,
        )?;
        line(f, "default (zero-shot)", &self.default)?;
        writeln!(
            f,
            "learned, macro F1 per fold: mean {mean:.4}, sd {spread:.4}; slowest training {} ms",
            self.slowest_training.as_millis()
        )?;
        for (name, m) in [("learned", &self.learned), ("default", &self.default)] {
            writeln!(f)?;
            writeln!(f, "{name}:")?;
            writeln!(
                f,
                "  {:<14} {:>9} {:>7} {:>7}",
                "class", "precision", "recall", "F1"
            )?;
            for (class, scores) in [
                ("complaint", m.complaint),
                ("not complaint", m.not_complaint),
            ] {
                writeln!(
                    f,
                    "  {class:<14} {:>9.3} {:>7.3} {:>7.3}",
                    scores.precision, scores.recall, scores.f1
                )?;
            }
            writeln!(f, "  confusion (rows: truth, columns: predicted)")?;
            writeln!(f, "  {:<14} {:>9} {:>9}", "", "complaint", "not")?;
            writeln!(
                f,
                "  {:<14} {:>9} {:>9}",
                "complaint", m.true_positives, m.false_negatives
            )?;
            writeln!(
                f,
                "  {:<14} {:>9} {:>9}",
                "not complaint", m.false_positives, m.true_negatives
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_parse_and_bad_records_are_skipped() {
        let complaints = "1,\"@acme it's broken, again\",1,software\n2,plain text,0,random_tweet\n3,missing label\n4,x,maybe,food\n";
        let dataset = parse_csv(complaints);
        assert_eq!(dataset.rows.len(), 2);
        assert_eq!(dataset.rows[0].text, "@acme it's broken, again");
        assert!(dataset.rows[0].complaint && dataset.rows[0].in_domain());
        assert!(!dataset.rows[1].in_domain());
        assert_eq!(dataset.skipped.len(), 2, "{:?}", dataset.skipped);
        assert_eq!(
            dataset.skipped[1],
            (4, "unknown label \"maybe\"".to_string())
        );

        let headered = "label,text\ncomplaint,\"two\nlines\"\nquestion,how?\n";
        let dataset = parse_csv(headered);
        assert!(!dataset.has_domains);
        assert_eq!(
            dataset.rows,
            vec![
                Row {
                    text: "two\nlines".into(),
                    complaint: true,
                    domain: None
                },
                Row {
                    text: "how?".into(),
                    complaint: false,
                    domain: None
                },
            ]
        );
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let truth = [true, true, true, false, false];
        let scores = [0.9, 0.6, 0.4, 0.7, 0.1];
        let m = metrics(&truth, &scores);
        assert_eq!(
            (
                m.true_positives,
                m.false_negatives,
                m.false_positives,
                m.true_negatives
            ),
            (2, 1, 1, 1)
        );
        assert!((m.accuracy - 0.6).abs() < 1e-9);
        assert!((m.complaint.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.not_complaint.recall - 0.5).abs() < 1e-9);
        // Pairs (positive, negative) ranked right: 0.9>0.7, 0.9>0.1, 0.6>0.1, 0.4>0.1 = 4 of 6.
        assert!((m.roc_auc - 4.0 / 6.0).abs() < 1e-9);
        let tied = metrics(&[true, false], &[0.5, 0.5]);
        assert!((tied.roc_auc - 0.5).abs() < 1e-9);
    }

    #[test]
    fn the_summary_prints_four_decimals() {
        // 0.84823 and 0.84567 both round to 0.848 at three decimals: the summary must tell
        // them apart, since the configurations compared differ by a few ten-thousandths.
        let learned = Metrics {
            accuracy: 0.86012,
            macro_f1: 0.84823,
            roc_auc: 0.92456,
            ..Metrics::default()
        };
        let evaluation = Evaluation {
            rows: 10,
            complaints: 4,
            folds: 2,
            learned,
            fold_macro_f1: vec![0.84567, 0.85079],
            default: Metrics::default(),
            slowest_training: Duration::from_millis(3),
        };
        let text = evaluation.to_string();
        let summary = text
            .lines()
            .find(|line| line.starts_with("learned (2-fold CV)"))
            .expect("summary line");
        assert!(summary.ends_with("0.8601   0.8482   0.9246"), "{summary:?}");
        assert!(
            text.contains("macro F1 per fold: mean 0.8482, sd 0.0026"),
            "{text}"
        );
    }

    #[test]
    fn folds_are_stratified_and_deterministic() {
        let labels: Vec<bool> = (0..30).map(|i| i % 3 == 0).collect();
        let folds = stratified_folds(&labels, 5, 42);
        assert_eq!(folds, stratified_folds(&labels, 5, 42));
        for fold in 0..5 {
            let members: Vec<usize> = (0..30).filter(|&i| folds[i] == fold).collect();
            assert_eq!(members.len(), 6);
            assert_eq!(members.iter().filter(|&&i| labels[i]).count(), 2);
        }
    }
}
