//! The built-in default: a small hand-set scoring model over the lexicon's findings. No
//! training, no data: every weight below was written by hand and checked on the demo feed and
//! the evaluation sets (see BENCHMARKS.md), not fitted to them.

use super::lexicon::Analysis;
use super::text::Normalized;
use crate::domain::Label;

/// The default's reading of a post.
#[derive(Debug, Clone)]
pub struct DefaultVerdict {
    /// The complaint logit: above 0 is a complaint.
    pub logit: f32,
    /// The label.
    pub label: Label,
    /// Confidence in the label, 0..=1.
    pub score: f32,
    /// The reason, naming the cues.
    pub reason: String,
}

/// The complaint logit of the hand-set model.
pub fn complaint_logit(post: &Normalized, analysis: &Analysis) -> f32 {
    let negative_cue = analysis.complaint > 0.0 || analysis.negative > 0.0;
    let mut logit = -0.5;
    logit += analysis.complaint.min(4.0);
    logit += 0.35 * analysis.negative.min(6.0);
    logit += 1.2 * analysis.negated_positive as f32;
    if analysis.complaint_kinds >= 2 {
        logit += 0.4;
    }
    // Praise words in a complaint are usually sarcasm or politeness ("thanks for nothing");
    // they weaken it without cancelling it.
    logit -= 0.7 * analysis.praise.min(3.0);
    logit -= 0.15 * analysis.positive.min(6.0);
    // A question with a negative cue is usually a complaint ("why is my order still not
    // here?"); a plain question usually is not.
    if analysis.question_mark && negative_cue {
        logit += 0.3;
    }
    logit -= 0.5 * analysis.question.min(2.0);
    if analysis.exclamation && negative_cue {
        logit += 0.3;
    }
    if post.shouted > 0 && negative_cue {
        logit += 0.3;
    }
    logit
}

/// Labels a post with the hand-set model.
pub fn default_verdict(post: &Normalized, analysis: &Analysis) -> DefaultVerdict {
    let logit = complaint_logit(post, analysis);
    if logit >= 0.0 {
        return DefaultVerdict {
            logit,
            label: Label::Complaint,
            score: sigmoid(logit),
            reason: cue_reason(analysis.complaint_cues.iter().map(String::as_str)),
        };
    }
    let (label, score, reason) = not_complaint(analysis, logit);
    DefaultVerdict {
        logit,
        label,
        score,
        reason,
    }
}

/// The label of a post that is not a complaint: question, praise or other, with a score and
/// the reason. Shared with the learned model, which only decides complaint or not.
pub fn not_complaint(analysis: &Analysis, logit: f32) -> (Label, f32, String) {
    let mut question = analysis.question;
    if analysis.question_mark {
        question += 0.8;
    }
    if question >= 0.8 && question >= analysis.praise {
        let mut cues: Vec<&str> = analysis.question_cues.clone();
        if analysis.question_mark {
            cues.push("?");
        }
        (
            Label::Question,
            saturate(question),
            cue_reason(cues.into_iter()),
        )
    } else if analysis.praise >= 0.9 {
        (
            Label::Praise,
            saturate(analysis.praise),
            cue_reason(analysis.praise_cues.iter().copied()),
        )
    } else {
        (
            Label::Other,
            (1.0 - sigmoid(logit)).clamp(0.5, 0.95),
            "no complaint, question or praise cues".to_string(),
        )
    }
}

/// "cues: "a", "b"" with at most five cues.
pub fn cue_reason<'a>(cues: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = cues.take(5).map(|cue| format!("\"{cue}\"")).collect();
    if quoted.is_empty() {
        "no cues".to_string()
    } else {
        format!("cues: {}", quoted.join(", "))
    }
}

/// One strong cue is ~0.6, three are ~0.9.
fn saturate(raw: f32) -> f32 {
    1.0 - (-raw).exp()
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
