//! First triage: config rules, then a small cue lexicon. Pure and fast.
//!
//! This is the built-in default that needs no training: words and phrases that signal a
//! complaint, a question or praise, with weights, and negated positives ("not happy"). It
//! returns a label, a score and the cues that drove it, so the card can say why.

use crate::domain::{normalize_handle, Label, Mention, Triage};

/// Complaint cues and their weights. Phrases match on word boundaries of lowercased text.
const COMPLAINT_CUES: &[(&str, f32)] = &[
    ("refund", 1.2),
    ("charged twice", 1.6),
    ("double charged", 1.6),
    ("overcharged", 1.4),
    ("cancel", 0.8),
    ("cancelled", 0.8),
    ("broken", 1.2),
    ("not working", 1.4),
    ("doesn't work", 1.4),
    ("does not work", 1.4),
    ("isn't working", 1.4),
    ("stopped working", 1.4),
    ("won't", 0.6),
    ("can't", 0.6),
    ("cannot", 0.6),
    ("still", 0.7),
    ("again", 0.5),
    ("waiting", 0.9),
    ("waited", 0.9),
    ("no response", 1.2),
    ("no reply", 1.2),
    ("no answer", 1.0),
    ("ignored", 1.0),
    ("worst", 1.4),
    ("terrible", 1.3),
    ("awful", 1.3),
    ("horrible", 1.3),
    ("useless", 1.2),
    ("unacceptable", 1.4),
    ("ridiculous", 1.1),
    ("disappointed", 1.1),
    ("disappointing", 1.1),
    ("frustrated", 1.1),
    ("frustrating", 1.1),
    ("angry", 1.0),
    ("scam", 1.3),
    ("down", 0.6),
    ("outage", 1.3),
    ("error", 0.9),
    ("crash", 1.0),
    ("crashes", 1.0),
    ("crashing", 1.0),
    ("failed", 1.0),
    ("fails", 1.0),
    ("failing", 1.0),
    ("never arrived", 1.5),
    ("hasn't arrived", 1.4),
    ("late", 0.7),
    ("delayed", 0.9),
    ("lost", 0.8),
    ("missing", 0.8),
    ("wrong", 0.8),
    ("damaged", 1.2),
    ("locked out", 1.3),
    ("bug", 0.8),
    ("problem", 0.7),
    ("issue", 0.6),
    ("fix", 0.6),
    ("hours", 0.4),
    ("days", 0.4),
    ("weeks", 0.5),
    ("complaint", 1.0),
    ("rude", 1.1),
    ("unusable", 1.3),
    ("supposed to", 0.9),
    ("hasn't moved", 1.0),
    ("hasn't", 0.4),
    ("haven't", 0.4),
    ("doesn't", 0.4),
    ("charged", 0.8),
    ("twice", 0.5),
    ("offline", 1.0),
    ("on hold", 1.0),
    ("call me back", 0.5),
    ("returned to sender", 1.0),
    ("nobody told", 1.0),
    ("nobody", 0.5),
    ("no email", 0.8),
    ("dark pattern", 1.4),
    ("trying to cancel", 1.2),
    ("let me leave", 0.8),
    ("something went wrong", 1.2),
    ("every time", 0.6),
    ("anyone else", 0.5),
    ("cant", 0.6),
    ("can't log in", 1.0),
    ("cant log in", 1.0),
    ("instead", 0.7),
    ("mistake", 0.8),
    ("paperweight", 1.0),
    ("0 answers", 1.0),
    ("no answers", 1.0),
    ("maze", 0.5),
    ("still waiting", 0.6),
    ("hung up", 1.2),
];

/// Negated positives: strong complaint signals that would otherwise read as praise.
const NEGATED_POSITIVES: &[&str] = &[
    "not happy",
    "not great",
    "not good",
    "not ok",
    "not okay",
    "not impressed",
    "not fixed",
    "not resolved",
    "no help",
    "not helpful",
    "thanks for nothing",
    "thank you for nothing",
    "no thanks to",
];

const PRAISE_CUES: &[(&str, f32)] = &[
    ("love", 1.2),
    ("thanks", 1.0),
    ("thank you", 1.2),
    ("great", 0.9),
    ("awesome", 1.1),
    ("amazing", 1.1),
    ("brilliant", 1.0),
    ("perfect", 1.0),
    ("excellent", 1.0),
    ("kudos", 1.0),
    ("well done", 1.0),
    ("fantastic", 1.1),
    ("best", 0.8),
    ("impressed", 0.9),
    ("smooth", 0.6),
    ("shoutout", 1.0),
    ("shout out", 1.0),
    ("nice", 0.9),
    ("credit where", 1.0),
    ("more of this", 0.8),
    ("this is how you", 0.8),
];

const QUESTION_CUES: &[(&str, f32)] = &[
    ("how do i", 1.0),
    ("how can i", 1.0),
    ("how to", 0.8),
    ("does anyone", 0.8),
    ("is there", 0.7),
    ("can i", 0.7),
    ("when will", 0.8),
    ("where can", 0.8),
    ("what is", 0.5),
    ("any plans", 0.8),
    ("do you", 0.5),
];

/// The rules and thresholds triage runs with.
#[derive(Debug, Clone)]
pub struct Triager {
    include_keywords: Vec<String>,
    exclude_keywords: Vec<String>,
    ignore_authors: Vec<String>,
    card_labels: Vec<Label>,
    min_score: f32,
}

/// What triage needs from config.
#[derive(Debug, Clone)]
pub struct TriageRules {
    /// Words that make a post a complaint candidate whatever else it says.
    pub include_keywords: Vec<String>,
    /// Words that make a post noise (e.g. job ads).
    pub exclude_keywords: Vec<String>,
    /// Authors whose posts never become cards (handles).
    pub ignore_authors: Vec<String>,
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
            ignore_authors: Vec::new(),
            card_labels: vec![Label::Complaint],
            min_score: 0.5,
        }
    }
}

impl Triager {
    /// A triager with these rules.
    pub fn new(rules: TriageRules) -> Triager {
        let lower = |words: Vec<String>| words.into_iter().map(|w| w.to_lowercase()).collect();
        Triager {
            include_keywords: lower(rules.include_keywords),
            exclude_keywords: lower(rules.exclude_keywords),
            ignore_authors: rules
                .ignore_authors
                .iter()
                .map(|handle| normalize_handle(handle))
                .collect(),
            card_labels: rules.card_labels,
            min_score: rules.min_score,
        }
    }

    /// Labels a post, with a score and the reason.
    pub fn triage(&self, mention: &Mention) -> Triage {
        if self
            .ignore_authors
            .contains(&normalize_handle(&mention.author.handle))
        {
            return Triage {
                label: Label::Other,
                score: 1.0,
                reason: format!("author @{} is ignored by config", mention.author.handle),
            };
        }
        let text = format!(" {} ", normalize_text(&mention.text));
        if let Some(word) = self
            .exclude_keywords
            .iter()
            .find(|word| contains_phrase(&text, word))
        {
            return Triage {
                label: Label::Other,
                score: 1.0,
                reason: format!("excluded by keyword \"{word}\""),
            };
        }
        let mut complaint_cues = Vec::new();
        let mut complaint = 0.0;
        for phrase in NEGATED_POSITIVES {
            if contains_phrase(&text, phrase) {
                complaint += 1.5;
                complaint_cues.push(*phrase);
            }
        }
        for (phrase, weight) in COMPLAINT_CUES {
            if contains_phrase(&text, phrase) {
                complaint += weight;
                complaint_cues.push(*phrase);
            }
        }
        for word in &self.include_keywords {
            if contains_phrase(&text, word) {
                complaint += 1.0;
                complaint_cues.push(word.as_str());
            }
        }
        let (praise, praise_cues) = score(&text, PRAISE_CUES, &complaint_cues);
        let (mut question, question_cues) = score(&text, QUESTION_CUES, &[]);
        if mention.text.contains('?') {
            question += 0.8;
        }
        // Praise words in a complaint are usually sarcasm or politeness ("thanks for nothing").
        let complaint_net = complaint - 0.5 * praise;
        let (label, raw, cues) = if complaint_net >= 1.0 {
            (Label::Complaint, complaint_net, complaint_cues)
        } else if question >= 0.8 && question >= praise {
            let mut cues = question_cues;
            if mention.text.contains('?') {
                cues.push("?");
            }
            (Label::Question, question, cues)
        } else if praise >= 0.9 {
            (Label::Praise, praise, praise_cues)
        } else {
            (Label::Other, 1.0 - complaint_net.max(0.0) / 2.0, Vec::new())
        };
        let score = if label == Label::Other {
            raw.clamp(0.5, 0.9)
        } else {
            // Saturating: one strong cue is ~0.6, three are ~0.9.
            1.0 - (-raw).exp()
        };
        let reason = if cues.is_empty() {
            "no complaint, question or praise cues".to_string()
        } else {
            let quoted: Vec<String> = cues
                .iter()
                .take(5)
                .map(|cue| format!("\"{cue}\""))
                .collect();
            format!("cues: {}", quoted.join(", "))
        };
        Triage {
            label,
            score: (score * 100.0).round() / 100.0,
            reason,
        }
    }

    /// Whether a verdict gets a card.
    pub fn wants_card(&self, triage: &Triage) -> bool {
        self.card_labels.contains(&triage.label) && triage.score >= self.min_score
    }
}

fn score<'a>(text: &str, cues: &[(&'a str, f32)], skip: &[&str]) -> (f32, Vec<&'a str>) {
    let mut total = 0.0;
    let mut found = Vec::new();
    for (phrase, weight) in cues {
        let negated = skip.iter().any(|negated| negated.contains(phrase));
        if !negated && contains_phrase(text, phrase) {
            total += weight;
            found.push(*phrase);
        }
    }
    (total, found)
}

/// Lowercases and turns punctuation (but not apostrophes) into spaces, so phrases match on
/// word boundaries.
fn normalize_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_lowercase().next().unwrap_or(c)
            } else if c == '’' {
                '\''
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn contains_phrase(padded_text: &str, phrase: &str) -> bool {
    let mut needle = String::with_capacity(phrase.len() + 2);
    needle.push(' ');
    needle.push_str(phrase);
    needle.push(' ');
    padded_text.contains(&needle)
}

#[cfg(test)]
mod tests {
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

    fn check(text: &str, expected: Label) {
        let triager = Triager::new(TriageRules {
            exclude_keywords: vec!["hiring".into()],
            ..TriageRules::default()
        });
        let verdict = triager.triage(&mention(text));
        assert_eq!(verdict.label, expected, "{text:?}: {verdict:?}");
        assert!((0.0..=1.0).contains(&verdict.score));
    }

    #[test]
    fn labels_follow_the_cues() {
        check(
            "@acme I was charged twice and still no refund",
            Label::Complaint,
        );
        check(
            "@acme the app is broken again, third time this week",
            Label::Complaint,
        );
        check(
            "@acme not happy with the new update at all",
            Label::Complaint,
        );
        check("@acme how do I export my invoices?", Label::Question);
        check(
            "@acme thank you, the new dashboard is amazing",
            Label::Praise,
        );
        check("@acme we're hiring! join the team", Label::Other);
        check("Going to the acme conference tomorrow", Label::Other);
        check(
            "@acme when will you fix the login error? waiting for days",
            Label::Complaint,
        );
    }

    #[test]
    fn reasons_name_the_cues_and_cards_follow_the_threshold() {
        let triager = Triager::new(TriageRules::default());
        let verdict = triager.triage(&mention("my order never arrived, I want a refund"));
        assert_eq!(verdict.label, Label::Complaint);
        assert!(verdict.reason.contains("\"refund\""), "{}", verdict.reason);
        assert!(
            verdict.reason.contains("\"never arrived\""),
            "{}",
            verdict.reason
        );
        assert!(triager.wants_card(&verdict));
        let praise = triager.triage(&mention("love it, thanks"));
        assert!(!triager.wants_card(&praise));
    }

    #[test]
    fn ignored_authors_never_get_cards() {
        let triager = Triager::new(TriageRules {
            ignore_authors: vec!["@Jo.bsky.social".into()],
            ..TriageRules::default()
        });
        let verdict = triager.triage(&mention("worst service, refund now"));
        assert_eq!(verdict.label, Label::Other);
        assert!(!triager.wants_card(&verdict));
    }
}
