//! The built-in lexicon: word valences, complaint, question and praise cues, negators and
//! intensifiers, written for this project (not learned from any dataset), and the pass that
//! reads a normalized post with them.
//!
//! Valences follow the usual -4..=4 scale of sentiment lexicons. A valence word within three
//! tokens after a negator ("not", "never", "can't"...) is flipped and damped, so "not happy"
//! counts as negative, and a negated positive is a complaint cue of its own.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::text::Normalized;

/// What kind of signal a cue is. The complaint kinds are listed in reasons by their phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueKind {
    /// Something broke or does not work.
    Failure,
    /// Waiting, delays, no answer.
    Waiting,
    /// Refunds, charges, money.
    Money,
    /// Cancelling or leaving.
    Cancel,
    /// Orders and parcels that did not arrive, or arrived wrong.
    Delivery,
    /// Bad service: rude staff, being ignored.
    Service,
    /// It happened before: "still", "again".
    Repeat,
    /// Broken expectations: "supposed to", "instead", "why".
    Expectation,
    /// Anger and strong disapproval.
    Anger,
    /// A question.
    Question,
    /// Praise or thanks.
    Praise,
}

/// Complaint, question and praise cues, with weights. Phrases are normalized text
/// (lowercase, single spaces, `<num>` for numbers). A negative weight cancels a cue inside a
/// harmless phrase ("no problem").
const CUES: &[(&str, CueKind, f32)] = &[
    // Failures.
    ("broken", CueKind::Failure, 1.2),
    ("broke", CueKind::Failure, 0.9),
    ("not working", CueKind::Failure, 1.4),
    ("doesn't work", CueKind::Failure, 1.4),
    ("doesnt work", CueKind::Failure, 1.4),
    ("does not work", CueKind::Failure, 1.4),
    ("isn't working", CueKind::Failure, 1.4),
    ("isnt working", CueKind::Failure, 1.4),
    ("stopped working", CueKind::Failure, 1.4),
    ("won't", CueKind::Failure, 0.6),
    ("wont", CueKind::Failure, 0.5),
    ("can't", CueKind::Failure, 0.6),
    ("cant", CueKind::Failure, 0.6),
    ("cannot", CueKind::Failure, 0.6),
    ("unable", CueKind::Failure, 0.8),
    ("can't log in", CueKind::Failure, 1.0),
    ("cant log in", CueKind::Failure, 1.0),
    ("locked out", CueKind::Failure, 1.3),
    ("down", CueKind::Failure, 0.6),
    ("outage", CueKind::Failure, 1.3),
    ("offline", CueKind::Failure, 1.0),
    ("error", CueKind::Failure, 0.9),
    ("crash", CueKind::Failure, 1.0),
    ("crashes", CueKind::Failure, 1.0),
    ("crashed", CueKind::Failure, 1.0),
    ("crashing", CueKind::Failure, 1.0),
    ("failed", CueKind::Failure, 1.0),
    ("fails", CueKind::Failure, 1.0),
    ("failing", CueKind::Failure, 1.0),
    ("failure", CueKind::Failure, 1.0),
    ("bug", CueKind::Failure, 0.8),
    ("glitch", CueKind::Failure, 0.8),
    ("problem", CueKind::Failure, 0.7),
    ("problems", CueKind::Failure, 0.7),
    ("issue", CueKind::Failure, 0.6),
    ("issues", CueKind::Failure, 0.6),
    ("no problem", CueKind::Failure, -0.7),
    ("no problems", CueKind::Failure, -0.7),
    ("no issues", CueKind::Failure, -0.6),
    ("something went wrong", CueKind::Failure, 1.2),
    ("wrong", CueKind::Failure, 0.8),
    ("damaged", CueKind::Failure, 1.2),
    ("faulty", CueKind::Failure, 1.2),
    ("defective", CueKind::Failure, 1.2),
    ("unusable", CueKind::Failure, 1.3),
    ("paperweight", CueKind::Failure, 1.0),
    ("keeps", CueKind::Failure, 0.4),
    ("stuck", CueKind::Failure, 0.8),
    ("freezes", CueKind::Failure, 0.9),
    ("fix", CueKind::Failure, 0.6),
    ("sort it out", CueKind::Failure, 0.8),
    ("errors", CueKind::Failure, 0.9),
    ("invalid", CueKind::Failure, 0.8),
    ("hacked", CueKind::Failure, 1.0),
    ("expired", CueKind::Failure, 1.0),
    ("non existent", CueKind::Failure, 0.8),
    ("tried", CueKind::Failure, 0.4),
    ("lasted", CueKind::Failure, 0.5),
    // Waiting and silence.
    ("waiting", CueKind::Waiting, 0.9),
    ("waited", CueKind::Waiting, 0.9),
    ("wait", CueKind::Waiting, 0.4),
    ("still waiting", CueKind::Waiting, 0.6),
    ("on hold", CueKind::Waiting, 1.0),
    ("no response", CueKind::Waiting, 1.2),
    ("no reply", CueKind::Waiting, 1.2),
    ("no answer", CueKind::Waiting, 1.0),
    ("no answers", CueKind::Waiting, 1.0),
    ("<num> answers", CueKind::Waiting, 0.5),
    ("not heard", CueKind::Waiting, 1.0),
    ("heard nothing", CueKind::Waiting, 1.0),
    ("ignored", CueKind::Waiting, 1.0),
    ("ignoring", CueKind::Waiting, 1.0),
    ("hours", CueKind::Waiting, 0.4),
    ("days", CueKind::Waiting, 0.4),
    ("weeks", CueKind::Waiting, 0.5),
    ("months", CueKind::Waiting, 0.4),
    ("delayed", CueKind::Waiting, 0.9),
    ("delay", CueKind::Waiting, 0.8),
    ("late", CueKind::Waiting, 0.7),
    ("yet", CueKind::Waiting, 0.4),
    ("call me back", CueKind::Waiting, 0.5),
    ("no call back", CueKind::Waiting, 1.2),
    ("called", CueKind::Waiting, 0.4),
    ("hung up", CueKind::Service, 1.2),
    ("nobody told", CueKind::Service, 1.0),
    ("nobody", CueKind::Service, 0.5),
    ("no one", CueKind::Service, 0.5),
    ("no email", CueKind::Waiting, 0.8),
    ("no help", CueKind::Service, 1.2),
    ("no longer", CueKind::Expectation, 0.6),
    // Money.
    ("refund", CueKind::Money, 1.2),
    ("refunded", CueKind::Money, 0.3),
    ("charged twice", CueKind::Money, 1.6),
    ("double charged", CueKind::Money, 1.6),
    ("overcharged", CueKind::Money, 1.4),
    ("charged", CueKind::Money, 0.8),
    ("twice", CueKind::Repeat, 0.5),
    ("money back", CueKind::Money, 1.2),
    ("compensation", CueKind::Money, 1.0),
    ("scam", CueKind::Money, 1.3),
    ("rip off", CueKind::Money, 1.3),
    ("ripoff", CueKind::Money, 1.3),
    ("ripped off", CueKind::Money, 1.3),
    ("fee", CueKind::Money, 0.4),
    ("fees", CueKind::Money, 0.4),
    ("price hike", CueKind::Money, 1.0),
    ("denied", CueKind::Service, 0.9),
    ("refused", CueKind::Service, 0.9),
    ("refuse", CueKind::Service, 0.8),
    // Cancelling.
    ("cancel", CueKind::Cancel, 0.8),
    ("cancelled", CueKind::Cancel, 0.8),
    ("canceled", CueKind::Cancel, 0.8),
    ("cancelling", CueKind::Cancel, 0.8),
    ("trying to cancel", CueKind::Cancel, 1.2),
    ("let me leave", CueKind::Cancel, 0.8),
    ("last time", CueKind::Cancel, 0.8),
    ("never again", CueKind::Cancel, 1.4),
    ("switching to", CueKind::Cancel, 1.0),
    ("dark pattern", CueKind::Cancel, 1.4),
    // Delivery.
    ("never arrived", CueKind::Delivery, 1.5),
    ("hasn't arrived", CueKind::Delivery, 1.4),
    ("hasnt arrived", CueKind::Delivery, 1.4),
    ("not arrived", CueKind::Delivery, 1.4),
    ("not received", CueKind::Delivery, 1.4),
    ("still not", CueKind::Repeat, 0.8),
    ("lost", CueKind::Delivery, 0.8),
    ("missing", CueKind::Delivery, 0.8),
    ("returned to sender", CueKind::Delivery, 1.0),
    ("hasn't moved", CueKind::Delivery, 1.0),
    ("where is my", CueKind::Delivery, 1.0),
    ("where's my", CueKind::Delivery, 1.0),
    // Service.
    ("rude", CueKind::Service, 1.1),
    ("customer service", CueKind::Service, 0.5),
    ("complaint", CueKind::Service, 1.0),
    ("complain", CueKind::Service, 1.0),
    ("unacceptable", CueKind::Service, 1.4),
    ("maze", CueKind::Service, 0.5),
    // Repeats.
    ("still", CueKind::Repeat, 0.7),
    ("again", CueKind::Repeat, 0.5),
    ("every time", CueKind::Repeat, 0.6),
    ("third time", CueKind::Repeat, 0.8),
    ("anyone else", CueKind::Repeat, 0.5),
    // Broken expectations.
    ("supposed to", CueKind::Expectation, 0.9),
    ("instead", CueKind::Expectation, 0.7),
    ("mistake", CueKind::Expectation, 0.8),
    ("why", CueKind::Expectation, 0.6),
    ("how come", CueKind::Expectation, 0.8),
    ("seriously", CueKind::Expectation, 0.8),
    ("really", CueKind::Expectation, 0.2),
    ("even", CueKind::Expectation, 0.3),
    ("apparently", CueKind::Expectation, 0.5),
    ("not even", CueKind::Expectation, 0.6),
    ("please explain", CueKind::Expectation, 1.0),
    ("are you kidding", CueKind::Anger, 1.2),
    ("kidding", CueKind::Anger, 0.6),
    ("thanks for nothing", CueKind::Anger, 2.5),
    ("thank you for nothing", CueKind::Anger, 2.5),
    ("no thanks to", CueKind::Anger, 1.5),
    ("worst", CueKind::Anger, 1.4),
    ("ridiculous", CueKind::Anger, 1.1),
    ("joke", CueKind::Anger, 0.8),
    ("wtf", CueKind::Anger, 1.0),
    ("sucks", CueKind::Anger, 1.2),
    ("fed up", CueKind::Anger, 1.3),
    ("sick of", CueKind::Anger, 1.2),
    ("shame on", CueKind::Anger, 1.3),
    // Questions.
    ("how do i", CueKind::Question, 1.0),
    ("how can i", CueKind::Question, 1.0),
    ("how to", CueKind::Question, 0.8),
    ("does anyone", CueKind::Question, 0.8),
    ("is there", CueKind::Question, 0.7),
    ("is there a way", CueKind::Question, 0.6),
    ("where do i", CueKind::Question, 0.8),
    ("can i", CueKind::Question, 0.7),
    ("can you", CueKind::Question, 0.5),
    ("when will", CueKind::Question, 0.8),
    ("where can", CueKind::Question, 0.8),
    ("what is", CueKind::Question, 0.5),
    ("any plans", CueKind::Question, 0.8),
    ("do you", CueKind::Question, 0.5),
    ("question", CueKind::Question, 0.6),
    ("wondering", CueKind::Question, 0.7),
    // Praise.
    ("love", CueKind::Praise, 1.2),
    ("thanks", CueKind::Praise, 1.0),
    ("thank you", CueKind::Praise, 1.2),
    ("thx", CueKind::Praise, 0.8),
    ("great", CueKind::Praise, 0.9),
    ("awesome", CueKind::Praise, 1.1),
    ("amazing", CueKind::Praise, 1.1),
    ("brilliant", CueKind::Praise, 1.0),
    ("perfect", CueKind::Praise, 1.0),
    ("excellent", CueKind::Praise, 1.0),
    ("kudos", CueKind::Praise, 1.0),
    ("well done", CueKind::Praise, 1.0),
    ("fantastic", CueKind::Praise, 1.1),
    ("best", CueKind::Praise, 0.8),
    ("impressed", CueKind::Praise, 0.9),
    ("smooth", CueKind::Praise, 0.6),
    ("shoutout", CueKind::Praise, 1.0),
    ("shout out", CueKind::Praise, 1.0),
    ("nice", CueKind::Praise, 0.9),
    ("credit where", CueKind::Praise, 1.0),
    ("more of this", CueKind::Praise, 0.8),
    ("this is how you", CueKind::Praise, 0.8),
    ("recommend", CueKind::Praise, 0.9),
    ("no worries", CueKind::Praise, 0.6),
];

/// Word valences on the -4..=4 scale. Hand-written for customer posts.
const VALENCE: &[(&str, f32)] = &[
    // Negative.
    ("abysmal", -3.2),
    ("absurd", -2.0),
    ("angry", -2.5),
    ("annoyed", -2.0),
    ("annoying", -2.0),
    ("appalling", -3.0),
    ("appalled", -3.0),
    ("ashamed", -2.0),
    ("atrocious", -3.2),
    ("avoid", -1.5),
    ("awful", -3.0),
    ("bad", -2.5),
    ("badly", -2.0),
    ("bs", -2.0),
    ("bullshit", -3.0),
    ("careless", -2.0),
    ("cheated", -3.0),
    ("clueless", -2.0),
    ("complain", -1.5),
    ("complaint", -1.5),
    ("confused", -1.2),
    ("crap", -2.5),
    ("crappy", -2.5),
    ("cold", -0.8),
    ("damn", -1.5),
    ("dead", -1.5),
    ("deceived", -2.8),
    ("dirty", -2.0),
    ("disappointed", -2.5),
    ("disappointing", -2.5),
    ("disappointment", -2.5),
    ("disaster", -3.0),
    ("disgrace", -3.0),
    ("disgraceful", -3.0),
    ("disgusted", -3.0),
    ("disgusting", -3.0),
    ("dreadful", -3.0),
    ("dumb", -2.0),
    ("embarrassing", -2.0),
    ("expensive", -1.0),
    ("fail", -2.0),
    ("failed", -2.0),
    ("fake", -2.0),
    ("fault", -1.5),
    ("fck", -2.5),
    ("fuck", -2.5),
    ("fucking", -2.5),
    ("furious", -3.2),
    ("frustrated", -2.2),
    ("frustrating", -2.2),
    ("frustration", -2.2),
    ("garbage", -2.8),
    ("hate", -2.8),
    ("hated", -2.8),
    ("hell", -2.2),
    ("helpless", -2.0),
    ("hopeless", -2.2),
    ("horrified", -3.0),
    ("incompetence", -2.8),
    ("lacking", -1.5),
    ("desperate", -1.2),
    ("stumped", -1.5),
    ("tragedy", -2.5),
    ("racist", -2.5),
    ("horrendous", -3.2),
    ("horrible", -3.0),
    ("horrid", -3.0),
    ("idiots", -2.8),
    ("incompetent", -2.8),
    ("inconvenience", -1.8),
    ("inconvenient", -1.5),
    ("insane", -1.5),
    ("irritated", -2.0),
    ("joke", -1.5),
    ("lame", -1.8),
    ("liar", -3.0),
    ("liars", -3.0),
    ("lie", -2.2),
    ("lied", -2.5),
    ("lies", -2.2),
    ("lousy", -2.5),
    ("mad", -2.0),
    ("mess", -2.0),
    ("messed", -2.0),
    ("miserable", -2.8),
    ("misleading", -2.5),
    ("nightmare", -3.0),
    ("nonsense", -2.2),
    ("outrageous", -3.0),
    ("pathetic", -3.0),
    ("pissed", -2.8),
    ("poor", -2.0),
    ("poorly", -2.0),
    ("rubbish", -2.5),
    ("rude", -2.5),
    ("sad", -2.0),
    ("scam", -3.0),
    ("shambles", -2.8),
    ("shame", -2.0),
    ("shit", -2.6),
    ("shitty", -2.6),
    ("shocking", -2.5),
    ("sick", -1.8),
    ("slow", -1.5),
    ("sorry", -0.6),
    ("stupid", -2.4),
    ("stressed", -2.0),
    ("suck", -2.2),
    ("sucks", -2.2),
    ("terrible", -3.0),
    ("tired", -1.5),
    ("trash", -2.5),
    ("ugh", -2.0),
    ("unacceptable", -3.0),
    ("unfair", -2.2),
    ("unfortunately", -1.5),
    ("unhappy", -2.5),
    ("unhelpful", -2.5),
    ("unprofessional", -2.8),
    ("unreliable", -2.4),
    ("upset", -2.2),
    ("useless", -2.8),
    ("waste", -2.4),
    ("wasted", -2.4),
    ("weird", -1.0),
    ("worse", -2.4),
    ("worst", -3.2),
    ("worthless", -2.8),
    ("wrong", -1.8),
    ("wtf", -2.5),
    ("😡", -3.0),
    ("😠", -2.8),
    ("😤", -2.5),
    ("😞", -2.2),
    ("😒", -2.0),
    ("🙄", -2.0),
    ("🤬", -3.2),
    ("😢", -2.2),
    ("😭", -2.2),
    ("🤦", -2.0),
    // Positive.
    ("amazing", 2.8),
    ("appreciate", 2.0),
    ("appreciated", 2.0),
    ("awesome", 3.0),
    ("beautiful", 2.8),
    ("best", 3.0),
    ("better", 1.5),
    ("brilliant", 2.8),
    ("cheers", 1.5),
    ("congrats", 2.2),
    ("cool", 1.5),
    ("delighted", 3.0),
    ("easy", 1.5),
    ("enjoy", 2.0),
    ("enjoyed", 2.0),
    ("excellent", 3.0),
    ("excited", 2.2),
    ("fab", 2.5),
    ("fantastic", 3.0),
    ("fast", 1.2),
    ("fine", 0.8),
    ("friendly", 2.0),
    ("fun", 2.2),
    ("glad", 2.0),
    ("good", 1.9),
    ("great", 3.0),
    ("happy", 2.7),
    ("helpful", 2.2),
    ("impressed", 2.5),
    ("kind", 1.8),
    ("legend", 2.2),
    ("love", 3.0),
    ("loved", 3.0),
    ("lovely", 2.8),
    ("loving", 2.8),
    ("lucky", 1.8),
    ("nice", 1.8),
    ("ok", 0.9),
    ("okay", 0.9),
    ("perfect", 2.8),
    ("pleased", 2.2),
    ("quick", 1.2),
    ("recommend", 1.8),
    ("resolved", 1.5),
    ("satisfied", 2.0),
    ("smooth", 1.6),
    ("sorted", 1.4),
    ("super", 2.0),
    ("superb", 3.0),
    ("thank", 1.5),
    ("thanks", 1.9),
    ("thankful", 2.0),
    ("top", 1.2),
    ("welcome", 1.8),
    ("win", 2.0),
    ("wonderful", 2.8),
    ("works", 1.0),
    ("wow", 2.0),
    ("yay", 2.4),
    ("❤", 3.0),
    ("❤️", 3.0),
    ("😍", 3.0),
    ("😊", 2.2),
    ("🙂", 1.5),
    ("😀", 2.2),
    ("😁", 2.2),
    ("🙌", 2.4),
    ("👍", 1.8),
    ("🎉", 2.2),
];

/// Words that flip the valence of what follows.
const NEGATORS: &[&str] = &[
    "not",
    "no",
    "never",
    "none",
    "nothing",
    "nobody",
    "nowhere",
    "neither",
    "nor",
    "cannot",
    "can't",
    "cant",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "didn't",
    "didnt",
    "isn't",
    "isnt",
    "wasn't",
    "wasnt",
    "won't",
    "wont",
    "haven't",
    "havent",
    "hasn't",
    "hasnt",
    "aren't",
    "arent",
    "weren't",
    "shouldn't",
    "wouldn't",
    "couldn't",
    "ain't",
    "without",
    "hardly",
];

/// Words that strengthen the valence of the next word.
const INTENSIFIERS: &[&str] = &[
    "very",
    "so",
    "really",
    "extremely",
    "totally",
    "absolutely",
    "completely",
    "incredibly",
    "super",
    "such",
    "too",
    "truly",
    "utterly",
    "most",
];

/// The longest cue, in tokens.
const MAX_PHRASE_TOKENS: usize = 4;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    valence: f32,
    cue: Option<(CueKind, f32, &'static str)>,
    negator: bool,
    intensifier: bool,
}

struct Lexicon {
    entries: HashMap<&'static str, Entry, FxBuild>,
    /// First words of the cues of several words: only these start a longer lookup.
    phrase_starts: HashMap<&'static str, (), FxBuild>,
}

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut entries: HashMap<&'static str, Entry, FxBuild> = HashMap::default();
        let mut phrase_starts: HashMap<&'static str, (), FxBuild> = HashMap::default();
        for (phrase, kind, weight) in CUES {
            entries.entry(phrase).or_default().cue = Some((*kind, *weight, phrase));
            if let Some((first, _)) = phrase.split_once(' ') {
                phrase_starts.insert(first, ());
            }
        }
        for (word, valence) in VALENCE {
            entries.entry(word).or_default().valence = *valence;
        }
        for word in NEGATORS {
            entries.entry(word).or_default().negator = true;
        }
        for word in INTENSIFIERS {
            entries.entry(word).or_default().intensifier = true;
        }
        Lexicon {
            entries,
            phrase_starts,
        }
    })
}

/// What the lexicon found in a post.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Sum of complaint cue weights.
    pub complaint: f32,
    /// Sum of question cue weights (the `?` mark not included).
    pub question: f32,
    /// Sum of praise cue weights.
    pub praise: f32,
    /// Sum of negative valence (as a positive number), after negation.
    pub negative: f32,
    /// Sum of positive valence, after negation.
    pub positive: f32,
    /// Positive words under negation ("not happy", "never helpful").
    pub negated_positive: u32,
    /// Whether the post has a `?`.
    pub question_mark: bool,
    /// Whether the post has a `!`.
    pub exclamation: bool,
    /// How many different complaint kinds were found.
    pub complaint_kinds: u32,
    /// Complaint cues found, in order (phrases, or "not <word>" for a negated positive).
    pub complaint_cues: Vec<String>,
    /// Question cues found.
    pub question_cues: Vec<&'static str>,
    /// Praise cues found (not counting negated ones).
    pub praise_cues: Vec<&'static str>,
    /// Tokens in the post.
    pub tokens: usize,
}

/// Reads a normalized post with the lexicon.
pub fn analyze(post: &Normalized) -> Analysis {
    let lexicon = lexicon();
    let mut analysis = Analysis {
        tokens: post.tokens.len(),
        ..Analysis::default()
    };
    let mut kinds_seen = 0u32;
    let mut negated_until: Option<usize> = None;
    let mut previous_intensifier = false;
    for index in 0..post.tokens.len() {
        let token = post.token(index);
        match token {
            "?" => analysis.question_mark = true,
            "!" => analysis.exclamation = true,
            _ => {}
        }
        let negated = negated_until.is_some_and(|until| index <= until);
        let mut phrase_here = false;
        let longest = if lexicon.phrase_starts.contains_key(token) {
            MAX_PHRASE_TOKENS
        } else {
            1
        };
        for len in 1..=longest {
            let Some(phrase) = post.phrase(index, len) else {
                break;
            };
            let Some(entry) = lexicon.entries.get(phrase) else {
                continue;
            };
            if let Some((kind, weight, cue)) = entry.cue {
                phrase_here |= len > 1;
                match kind {
                    CueKind::Question => {
                        analysis.question += weight;
                        analysis.question_cues.push(cue);
                    }
                    CueKind::Praise => {
                        if negated && len == 1 {
                            continue;
                        }
                        analysis.praise += weight;
                        analysis.praise_cues.push(cue);
                    }
                    _ => {
                        analysis.complaint += weight;
                        if weight > 0.0 {
                            let bit = 1 << kind as u32;
                            if kinds_seen & bit == 0 {
                                kinds_seen |= bit;
                                analysis.complaint_kinds += 1;
                            }
                            analysis.complaint_cues.push(cue.to_string());
                        }
                    }
                }
            }
            if len == 1 && entry.valence != 0.0 {
                let mut valence = entry.valence;
                if previous_intensifier {
                    valence *= 1.3;
                }
                if negated {
                    valence *= -0.75;
                    if entry.valence > 0.0 {
                        analysis.negated_positive += 1;
                        analysis.complaint_cues.push(format!("not {token}"));
                    }
                }
                if valence > 0.0 {
                    analysis.positive += valence;
                } else {
                    analysis.negative -= valence;
                }
            }
        }
        let entry = lexicon.entries.get(token);
        // A cue phrase starting with a negator ("no problem", "not working") already says
        // what the negation means: it does not flip the words after it.
        if entry.is_some_and(|entry| entry.negator) && !phrase_here {
            negated_until = Some(index + 3);
        } else if matches!(token, "?" | "!" | "but") {
            negated_until = None;
        }
        previous_intensifier = entry.is_some_and(|entry| entry.intensifier);
    }
    analysis
}

/// FNV-1a's offset basis (the learned model's feature hashing, `model.rs`).
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's prime.
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The lexicon's maps hash short string keys with FNV-1a (the `fnv` crate).
type FxBuild = fnv::FnvBuildHasher;

#[cfg(test)]
mod tests {
    use super::super::text::normalize;
    use super::*;

    fn check(text: &str, cues: &[&str], negative: bool, positive: bool) {
        let analysis = analyze(&normalize(text));
        for cue in cues {
            assert!(
                analysis.complaint_cues.iter().any(|found| found == cue)
                    || analysis.question_cues.contains(cue)
                    || analysis.praise_cues.contains(cue),
                "{text:?}: {cue:?} not in {analysis:?}"
            );
        }
        assert_eq!(analysis.negative > 0.0, negative, "{text:?}: {analysis:?}");
        assert_eq!(analysis.positive > 0.0, positive, "{text:?}: {analysis:?}");
    }

    #[test]
    fn cues_and_valence_table() {
        check(
            "still waiting for my refund",
            &["still", "waiting", "still waiting", "refund"],
            false,
            false,
        );
        check("I'm not happy at all", &["not happy"], true, false);
        check(
            "never helpful, never again",
            &["not helpful", "never again"],
            true,
            false,
        );
        check(
            "the app is broken again",
            &["broken", "again"],
            false,
            false,
        );
        check("my parcel never arrived", &["never arrived"], false, false);
        check("how do I export my data?", &["how do i"], false, false);
        check(
            "thank you, it's awesome",
            &["thank you", "awesome"],
            false,
            true,
        );
        check("not bad at all", &[], false, true);
        check(
            "trying to cancel, this is a dark pattern",
            &["trying to cancel", "dark pattern"],
            false,
            false,
        );
        check(
            "it was supposed to arrive Tuesday",
            &["supposed to"],
            false,
            false,
        );
        check("really terrible service", &[], true, false);
        check("thanks for nothing", &["thanks for nothing"], false, true);
    }

    #[test]
    fn harmless_phrases_cancel_their_cue() {
        let analysis = analyze(&normalize("no problem at all, thanks"));
        assert!(analysis.complaint.abs() < 1e-6, "{analysis:?}");
        assert_eq!(analysis.praise_cues, ["thanks"], "{analysis:?}");
    }
}
