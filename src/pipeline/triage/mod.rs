//! Triage: config rules first, then a classifier. Pure and fast (no IO).
//!
//! - Rules from config: ignored authors, watched languages (the post's `lang`, or a detection
//!   when it has none), exclude keywords and patterns (label `other`), include keywords and
//!   patterns (a push towards `complaint`, named in the reason).
//! - The built-in default (`scoring.rs`): a hand-set model over a lexicon of word valences and
//!   complaint, question and praise cues (`lexicon.rs`). Needs no training.
//! - The learned model (`model.rs`): logistic regression over hashed word and character
//!   n-grams plus the lexicon's findings, trained on the team's labels by `mentiondesk train`.
//!   It decides complaint or not; the lexicon then tells question, praise and other apart.
//!
//! `eval.rs` reads labelled CSVs and cross-validates both (`mentiondesk eval`).

pub mod eval;
pub mod lexicon;
pub mod model;
pub mod scoring;
pub mod text;

use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use crate::domain::{normalize_handle, Label, Mention, Triage};
use lexicon::Analysis;
pub use model::{Example, LearnedModel, ModelError, TrainOptions};
use text::Normalized;

/// How much an include rule adds to the complaint logit.
const INCLUDE_BOOST: f32 = 1.0;

/// The rules and models triage runs with.
#[derive(Debug, Clone)]
pub struct Triager {
    include_keywords: Vec<String>,
    exclude_keywords: Vec<String>,
    include_patterns: Vec<Regex>,
    exclude_patterns: Vec<Regex>,
    ignore_authors: Vec<String>,
    languages: Vec<String>,
    card_labels: Vec<Label>,
    min_score: f32,
    model: Option<Arc<LearnedModel>>,
}

/// What triage needs from config.
#[derive(Debug, Clone)]
pub struct TriageRules {
    /// Words that push a post towards a complaint whatever else it says.
    pub include_keywords: Vec<String>,
    /// Words that make a post noise (e.g. job ads).
    pub exclude_keywords: Vec<String>,
    /// Regexes (case-insensitive) that push a post towards a complaint. Invalid ones are
    /// skipped: config validation reports them before triage ever sees them.
    pub include_patterns: Vec<String>,
    /// Regexes (case-insensitive) that make a post noise.
    pub exclude_patterns: Vec<String>,
    /// Authors whose posts never become cards (handles).
    pub ignore_authors: Vec<String>,
    /// Watched languages (ISO 639-1 codes such as `en`); empty watches every language.
    pub languages: Vec<String>,
    /// Labels that get a card.
    pub card_labels: Vec<Label>,
    /// The lowest score that gets a card.
    pub min_score: f32,
}

impl Default for TriageRules {
    fn default() -> Self {
        TriageRules {
            include_keywords: Vec::new(),
            exclude_keywords: Vec::new(),
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
            ignore_authors: Vec::new(),
            languages: Vec::new(),
            card_labels: vec![Label::Complaint],
            min_score: 0.5,
        }
    }
}

/// A post read by the lexicon and the default model: what both classifiers start from.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The normalized text.
    pub post: Normalized,
    /// The lexicon's findings.
    pub analysis: Analysis,
    /// The default's complaint logit.
    pub default_logit: f32,
}

impl Reading {
    /// Reads a post's text.
    pub fn new(text: &str) -> Reading {
        let post = text::normalize(text);
        let analysis = lexicon::analyze(&post);
        let default_logit = scoring::complaint_logit(&post, &analysis);
        Reading {
            post,
            analysis,
            default_logit,
        }
    }

    /// The learned model's features.
    pub fn features(&self) -> model::Features {
        model::features(&self.post, &self.analysis, self.default_logit)
    }

    /// The default's probability that the post is a complaint.
    pub fn default_probability(&self) -> f32 {
        scoring::sigmoid(self.default_logit)
    }
}

/// A training example from a text and its label.
pub fn example(text: &str, complaint: bool) -> Example {
    Example {
        features: Reading::new(text).features(),
        complaint,
    }
}

impl Triager {
    /// A triager with these rules and the built-in default model.
    pub fn new(rules: TriageRules) -> Triager {
        let normalize = |words: Vec<String>| {
            words
                .iter()
                .map(|word| text::normalize(word).text)
                .filter(|word| !word.is_empty())
                .collect()
        };
        let compile = |patterns: &[String]| {
            patterns
                .iter()
                .filter_map(|pattern| {
                    RegexBuilder::new(pattern)
                        .case_insensitive(true)
                        .build()
                        .ok()
                })
                .collect()
        };
        Triager {
            include_keywords: normalize(rules.include_keywords),
            exclude_keywords: normalize(rules.exclude_keywords),
            include_patterns: compile(&rules.include_patterns),
            exclude_patterns: compile(&rules.exclude_patterns),
            ignore_authors: rules
                .ignore_authors
                .iter()
                .map(|handle| normalize_handle(handle))
                .collect(),
            languages: rules
                .languages
                .iter()
                .map(|code| primary_language(code))
                .collect(),
            card_labels: rules.card_labels,
            min_score: rules.min_score,
            model: None,
        }
    }

    /// Uses a learned model instead of the built-in default.
    pub fn with_model(mut self, model: LearnedModel) -> Triager {
        self.model = Some(Arc::new(model));
        self
    }

    /// The learned model in use, if any.
    pub fn model(&self) -> Option<&LearnedModel> {
        self.model.as_deref()
    }

    /// Labels a post, with a score and the reason.
    pub fn triage(&self, mention: &Mention) -> Triage {
        if self
            .ignore_authors
            .contains(&normalize_handle(&mention.author.handle))
        {
            return rule_verdict(format!(
                "author @{} is ignored by config",
                mention.author.handle
            ));
        }
        if !self.languages.is_empty() {
            if let Some(language) = post_language(mention) {
                if !self.languages.contains(&language) {
                    return rule_verdict(format!("language {language} not watched"));
                }
            }
        }
        let reading = Reading::new(&mention.text);
        if let Some(word) = self
            .exclude_keywords
            .iter()
            .find(|word| contains_phrase(&reading.post.text, word))
        {
            return rule_verdict(format!("excluded by keyword \"{word}\""));
        }
        if let Some(pattern) = self
            .exclude_patterns
            .iter()
            .find(|pattern| pattern.is_match(&mention.text))
        {
            return rule_verdict(format!("excluded by pattern /{}/", pattern.as_str()));
        }
        let mut included: Vec<String> = self
            .include_keywords
            .iter()
            .filter(|word| contains_phrase(&reading.post.text, word))
            .map(|word| format!("\"{word}\""))
            .collect();
        included.extend(
            self.include_patterns
                .iter()
                .filter(|pattern| pattern.is_match(&mention.text))
                .map(|pattern| format!("/{}/", pattern.as_str())),
        );
        let boost = INCLUDE_BOOST * included.len() as f32;
        let verdict = match &self.model {
            Some(model) => learned_verdict(model, &reading, boost),
            None => default_verdict(&reading, boost),
        };
        let reason = if included.is_empty() || verdict.label != Label::Complaint {
            verdict.reason
        } else {
            format!("included by {}; {}", included.join(", "), verdict.reason)
        };
        Triage {
            label: verdict.label,
            score: (verdict.score * 100.0).round() / 100.0,
            reason,
        }
    }

    /// Whether a verdict gets a card.
    pub fn wants_card(&self, triage: &Triage) -> bool {
        self.card_labels.contains(&triage.label) && triage.score >= self.min_score
    }
}

struct Verdict {
    label: Label,
    score: f32,
    reason: String,
}

fn rule_verdict(reason: String) -> Triage {
    Triage {
        label: Label::Other,
        score: 1.0,
        reason,
    }
}

fn default_verdict(reading: &Reading, boost: f32) -> Verdict {
    let logit = reading.default_logit + boost;
    if logit >= 0.0 {
        return Verdict {
            label: Label::Complaint,
            score: scoring::sigmoid(logit),
            reason: scoring::cue_reason(reading.analysis.complaint_cues.iter().map(String::as_str)),
        };
    }
    let (label, score, reason) = scoring::not_complaint(&reading.analysis, logit);
    Verdict {
        label,
        score,
        reason,
    }
}

fn learned_verdict(model: &LearnedModel, reading: &Reading, boost: f32) -> Verdict {
    let logit = model.logit(&reading.features()) + boost;
    let probability = scoring::sigmoid(logit);
    if probability >= 0.5 {
        return Verdict {
            label: Label::Complaint,
            score: probability,
            reason: learned_reason(model, reading),
        };
    }
    let (label, score, reason) = scoring::not_complaint(&reading.analysis, logit);
    let score = if label == Label::Other {
        1.0 - probability
    } else {
        score
    };
    Verdict {
        label,
        score,
        reason: format!("learned model; {reason}"),
    }
}

/// The words that pushed the learned model hardest towards "complaint", and the cues.
fn learned_reason(model: &LearnedModel, reading: &Reading) -> String {
    let mut words: Vec<(f32, &str)> = (0..reading.post.tokens.len())
        .map(|index| reading.post.token(index))
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .map(|word| (model.word_weight(word), word))
        .filter(|(weight, _)| *weight > 0.0)
        .collect();
    words.sort_by(|a, b| b.0.total_cmp(&a.0));
    words.dedup_by(|a, b| a.1 == b.1);
    let quoted: Vec<String> = words
        .iter()
        .take(3)
        .map(|(_, word)| format!("\"{word}\""))
        .collect();
    let mut reason = if quoted.is_empty() {
        "learned model".to_string()
    } else {
        format!("learned model: {}", quoted.join(", "))
    };
    if !reading.analysis.complaint_cues.is_empty() {
        reason.push_str("; ");
        reason.push_str(&scoring::cue_reason(
            reading.analysis.complaint_cues.iter().map(String::as_str),
        ));
    }
    reason
}

/// The post's language: its `lang` tag, or a detection when it has none and the detector is
/// sure. `None` when unknown (an unknown language is watched: no post is dropped on a guess).
fn post_language(mention: &Mention) -> Option<String> {
    if let Some(tag) = mention.lang.as_deref().filter(|tag| !tag.trim().is_empty()) {
        return Some(primary_language(tag));
    }
    let info = whatlang::detect(&mention.text)?;
    if !info.is_reliable() {
        return None;
    }
    Some(iso_639_1(info.lang().code()).to_string())
}

/// "en-US" → "en", "pt_BR" → "pt".
fn primary_language(tag: &str) -> String {
    tag.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// whatlang's ISO 639-3 codes as the 639-1 codes networks use; others stay as they are.
fn iso_639_1(code: &str) -> &str {
    const TABLE: &[(&str, &str)] = &[
        ("afr", "af"),
        ("aka", "ak"),
        ("amh", "am"),
        ("ara", "ar"),
        ("aze", "az"),
        ("bel", "be"),
        ("ben", "bn"),
        ("bul", "bg"),
        ("cat", "ca"),
        ("ces", "cs"),
        ("cmn", "zh"),
        ("cym", "cy"),
        ("dan", "da"),
        ("deu", "de"),
        ("ell", "el"),
        ("eng", "en"),
        ("epo", "eo"),
        ("est", "et"),
        ("fin", "fi"),
        ("fra", "fr"),
        ("guj", "gu"),
        ("heb", "he"),
        ("hin", "hi"),
        ("hrv", "hr"),
        ("hun", "hu"),
        ("hye", "hy"),
        ("ind", "id"),
        ("ita", "it"),
        ("jav", "jv"),
        ("jpn", "ja"),
        ("kan", "kn"),
        ("kat", "ka"),
        ("khm", "km"),
        ("kor", "ko"),
        ("lat", "la"),
        ("lav", "lv"),
        ("lit", "lt"),
        ("mal", "ml"),
        ("mar", "mr"),
        ("mkd", "mk"),
        ("mya", "my"),
        ("nep", "ne"),
        ("nld", "nl"),
        ("nob", "nb"),
        ("ori", "or"),
        ("pan", "pa"),
        ("pes", "fa"),
        ("pol", "pl"),
        ("por", "pt"),
        ("ron", "ro"),
        ("rus", "ru"),
        ("sin", "si"),
        ("slk", "sk"),
        ("slv", "sl"),
        ("sna", "sn"),
        ("spa", "es"),
        ("srp", "sr"),
        ("swe", "sv"),
        ("tam", "ta"),
        ("tel", "te"),
        ("tgl", "tl"),
        ("tha", "th"),
        ("tuk", "tk"),
        ("tur", "tr"),
        ("ukr", "uk"),
        ("urd", "ur"),
        ("uzb", "uz"),
        ("vie", "vi"),
        ("yid", "yi"),
        ("zul", "zu"),
    ];
    TABLE
        .iter()
        .find(|(long, _)| *long == code)
        .map_or(code, |(_, short)| short)
}

/// Whether `phrase` (lowercase words) occurs in the normalized text on word boundaries.
fn contains_phrase(normalized: &str, phrase: &str) -> bool {
    let phrase = phrase.trim();
    if phrase.is_empty() {
        return false;
    }
    normalized.match_indices(phrase).any(|(at, _)| {
        let before = at == 0 || normalized.as_bytes()[at - 1] == b' ';
        let end = at + phrase.len();
        let after = end == normalized.len() || normalized.as_bytes()[end] == b' ';
        before && after
    })
}

#[cfg(test)]
mod tests;
