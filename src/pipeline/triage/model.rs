//! The learned model: logistic regression over hashed word and character n-grams plus the
//! lexicon's findings, trained on the team's labels. Complaint or not; a post that is not a
//! complaint gets question, praise or other from the lexicon.
//!
//! Features: word unigrams and bigrams and character 3- to 5-grams of the normalized text;
//! the word unigrams and bigrams again, conjoined with the post's register (addressed to
//! someone or not, with a link or not), so a word can weigh differently in a reply to a brand
//! than in a broadcast post; the word unigrams again, conjoined with whether the lexicon found a
//! negative word or a complaint cue in the post; the post's length in tokens (binned); and conjunctions of the
//! lexicon's findings (negative and addressed, cue and question...), the few interactions a
//! linear model cannot form by itself. All hashed (FNV-1a, signed) into 2^18 buckets, each
//! n-gram group scaled to a fixed length, plus a few dense features (the default's logit, cue
//! sums, valence, `?`, `@`, links). Training is AdaGrad over shuffled examples with L2,
//! deterministic for a given seed; a few models trained with different shuffle seeds are
//! averaged into one (seed bagging: it evens out AdaGrad's dependence on the pass order, and
//! the average of linear models is one linear model, so classifying costs the same).

use super::lexicon::{Analysis, FNV_OFFSET, FNV_PRIME};
use super::scoring::sigmoid;
use super::text::Normalized;

/// log2 of the number of hash buckets.
pub const HASH_BITS: u32 = 18;
const BUCKETS: usize = 1 << HASH_BITS;
/// How many dense features there are.
pub const DENSE: usize = 12;
/// Bumped whenever features change, so an old saved model is refused instead of misread.
pub const FEATURE_VERSION: u32 = 3;
const MAGIC: &[u8; 8] = b"mdtriage";
/// Tags the optional trailer after the weights: how many of the examples came from a CSV
/// file (`mentiondesk train --data`). Additive: features are unchanged, so no version bump;
/// a model without it (saved before the trailer existed) reads with `file_rows: None`.
const FILE_ROWS_TAG: &[u8; 8] = b"filerows";

/// A post as the learned model sees it.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// (bucket, value), buckets may repeat.
    pub sparse: Vec<(u32, f32)>,
    /// The dense features.
    pub dense: [f32; DENSE],
}

/// Extracts a post's features; `default_logit` is the hand-set model's logit.
pub fn features(post: &Normalized, analysis: &Analysis, default_logit: f32) -> Features {
    let mut sparse = Vec::with_capacity(post.text.len() * 3 + post.tokens.len() * 4 + 16);
    // Word unigrams and bigrams.
    let words_start = sparse.len();
    for index in 0..post.tokens.len() {
        sparse.push(bucket(1, post.token(index).as_bytes()));
        if let Some(pair) = post.phrase(index, 2) {
            sparse.push(bucket(2, pair.as_bytes()));
        }
    }
    scale(&mut sparse[words_start..], GROUP_LENGTH);
    // Character n-grams over the text padded with spaces, so word starts and ends count.
    let chars_start = sparse.len();
    let mut padded = Vec::with_capacity(post.text.len() + 2);
    padded.push(b' ');
    padded.extend_from_slice(post.text.as_bytes());
    padded.push(b' ');
    for n in 3..=5 {
        for window in padded.windows(n) {
            sparse.push(bucket(n as u64, window));
        }
    }
    scale(&mut sparse[chars_start..], GROUP_LENGTH);
    // Word unigrams and bigrams conjoined with the register.
    let register = u64::from(post.starts_with_mention) + 2 * u64::from(post.urls > 0);
    let conjoined_start = sparse.len();
    for index in 0..post.tokens.len() {
        sparse.push(bucket(16 + register, post.token(index).as_bytes()));
        if let Some(pair) = post.phrase(index, 2) {
            sparse.push(bucket(32 + register, pair.as_bytes()));
        }
    }
    scale(&mut sparse[conjoined_start..], GROUP_LENGTH);
    // Word unigrams conjoined with whether the lexicon found a negative word or a complaint
    // cue anywhere in the post (version 3).
    let toned = 48 + u64::from(analysis.negative > 0.0 || analysis.complaint > 0.0);
    let toned_start = sparse.len();
    for index in 0..post.tokens.len() {
        sparse.push(bucket(toned, post.token(index).as_bytes()));
    }
    scale(&mut sparse[toned_start..], GROUP_LENGTH);
    // Length in tokens, binned.
    let length_bin: u8 = match post.tokens.len() {
        0..=4 => 0,
        5..=8 => 1,
        9..=12 => 2,
        13..=17 => 3,
        18..=24 => 4,
        _ => 5,
    };
    let (length_bucket, sign) = bucket(8, &[length_bin]);
    sparse.push((length_bucket, sign * LENGTH_VALUE));
    // Conjunctions of the lexicon's findings.
    let addressed = u8::from(post.starts_with_mention || post.mentions > 0);
    let negative = u8::from(analysis.negative > 0.0);
    let cue = u8::from(analysis.complaint > 0.0);
    let question = u8::from(analysis.question_mark || analysis.question > 0.0);
    let positive = u8::from(analysis.praise > 0.0 || analysis.positive > 0.0);
    let link = u8::from(post.urls > 0);
    let pairs: [(u8, u8, u8); 10] = [
        (0, addressed, negative),
        (1, addressed, cue),
        (2, addressed, question),
        (3, addressed, positive),
        (4, negative, question),
        (5, cue, question),
        (6, negative, positive),
        (7, addressed, link),
        (8, cue, positive),
        (9, addressed * 2 + negative, cue * 2 + question),
    ];
    for (id, a, b) in pairs {
        let (combo_bucket, sign) = bucket(9, &[id, a, b]);
        sparse.push((combo_bucket, sign * COMBO_VALUE));
    }
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let dense = [
        default_logit / 2.0,
        analysis.complaint.min(4.0) / 2.0,
        analysis.negative.min(8.0) / 4.0,
        analysis.positive.min(8.0) / 4.0,
        (analysis.negated_positive as f32).min(2.0),
        flag(analysis.question_mark),
        analysis.question.min(2.0),
        analysis.praise.min(3.0) / 2.0,
        flag(post.starts_with_mention),
        flag(post.mentions > 0),
        flag(post.urls > 0),
        (analysis.complaint_kinds as f32).min(4.0) / 2.0,
    ];
    Features { sparse, dense }
}

/// The bucket of a word's unigram feature, for explaining a verdict.
pub fn word_bucket(word: &str) -> (u32, f32) {
    bucket(1, word.as_bytes())
}

fn bucket(namespace: u64, bytes: &[u8]) -> (u32, f32) {
    let mut hash = FNV_OFFSET ^ namespace.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    // Mix the high bits down: FNV's low bits are weak for short keys.
    hash ^= hash >> 29;
    let sign = if hash & (1 << 63) == 0 { 1.0 } else { -1.0 };
    ((hash as usize & (BUCKETS - 1)) as u32, sign)
}

/// The length each n-gram group is scaled to. Below 1 the dense lexicon features weigh more
/// against the n-grams (chosen by cross-validation: 0.5 beat 0.3 and 1.0).
const GROUP_LENGTH: f32 = 0.5;
/// The value of the length bin's feature (cross-validated: 0.6 against 0.3 and 1.0).
const LENGTH_VALUE: f32 = 0.6;
/// The value of each lexicon conjunction (cross-validated: 0.3 against 0.6 and 1.0).
const COMBO_VALUE: f32 = 0.3;

/// Scales a feature group (signed unit values) to length `length`.
fn scale(group: &mut [(u32, f32)], length: f32) {
    if group.is_empty() {
        return;
    }
    let norm = (group.len() as f32).sqrt() / length;
    for (_, value) in group.iter_mut() {
        *value /= norm;
    }
}

/// How training runs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Passes over the data.
    pub epochs: u32,
    /// AdaGrad's step size.
    pub learning_rate: f32,
    /// L2 penalty per update.
    pub l2: f32,
    /// Weigh the classes so each counts as much in total.
    pub balanced: bool,
    /// Shuffling seed (member `k` of the bag shuffles with `seed + 1000·k`).
    pub seed: u64,
    /// How many models, each with its own shuffle seed, are averaged into one.
    pub members: u32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 20,
            learning_rate: 0.1,
            l2: 3e-4,
            balanced: true,
            seed: 42,
            members: 3,
        }
    }
}

/// One training example.
#[derive(Debug, Clone)]
pub struct Example {
    /// The features.
    pub features: Features,
    /// Whether it is a complaint.
    pub complaint: bool,
}

/// A trained model.
#[derive(Clone)]
pub struct LearnedModel {
    weights: Vec<f32>,
    dense: [f32; DENSE],
    bias: f32,
    /// How many examples it was trained on.
    pub examples: u64,
    /// How many of them were complaints.
    pub complaints: u64,
    /// How many of them came from a CSV file rather than the store's labels; `None` for a
    /// model saved before this was recorded (unknown).
    pub file_rows: Option<u64>,
}

impl std::fmt::Debug for LearnedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnedModel")
            .field("examples", &self.examples)
            .field("complaints", &self.complaints)
            .field("file_rows", &self.file_rows)
            .finish_non_exhaustive()
    }
}

/// Why a saved model could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not a model, or a truncated one.
    #[error("not a triage model (bad header or length)")]
    Malformed,
    /// Written with other features.
    #[error("the saved model uses feature version {found}, this build uses {FEATURE_VERSION}: run `mentiondesk train` again")]
    OtherVersion {
        /// The version found.
        found: u32,
    },
}

impl LearnedModel {
    /// Trains on `examples` (both classes should be present): `options.members` models with
    /// their own shuffle seeds, averaged.
    pub fn train(examples: &[Example], options: &TrainOptions) -> LearnedModel {
        let members = options.members.max(1);
        let mut average = LearnedModel::train_one(examples, options);
        for member in 1..members {
            let seed = options.seed.wrapping_add(1000 * u64::from(member));
            let model = LearnedModel::train_one(
                examples,
                &TrainOptions {
                    seed,
                    ..options.clone()
                },
            );
            for (sum, weight) in average.weights.iter_mut().zip(&model.weights) {
                *sum += weight;
            }
            for (sum, weight) in average.dense.iter_mut().zip(&model.dense) {
                *sum += weight;
            }
            average.bias += model.bias;
        }
        let share = 1.0 / members as f32;
        for weight in average.weights.iter_mut().chain(average.dense.iter_mut()) {
            *weight *= share;
        }
        average.bias *= share;
        average
    }

    /// Trains one model with `options.seed`.
    fn train_one(examples: &[Example], options: &TrainOptions) -> LearnedModel {
        let complaints = examples.iter().filter(|e| e.complaint).count();
        let others = examples.len() - complaints;
        let (weight_complaint, weight_other) = if options.balanced && complaints > 0 && others > 0 {
            let total = examples.len() as f32;
            (
                total / (2.0 * complaints as f32),
                total / (2.0 * others as f32),
            )
        } else {
            (1.0, 1.0)
        };
        let mut weights = vec![0.0f32; BUCKETS];
        let mut squares = vec![0.0f32; BUCKETS];
        let mut dense = [0.0f32; DENSE];
        let mut dense_squares = [0.0f32; DENSE];
        let mut bias = 0.0f32;
        let mut bias_square = 0.0f32;
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = options.seed | 1;
        let rate = options.learning_rate;
        const EPSILON: f32 = 1e-6;
        for _ in 0..options.epochs {
            shuffle(&mut order, &mut rng);
            for &index in &order {
                let example = &examples[index];
                let logit = dot(&weights, &dense, bias, &example.features);
                let target = if example.complaint { 1.0 } else { 0.0 };
                let class_weight = if example.complaint {
                    weight_complaint
                } else {
                    weight_other
                };
                let error = (sigmoid(logit) - target) * class_weight;
                for &(bucket, value) in &example.features.sparse {
                    let bucket = bucket as usize;
                    let gradient = error * value + options.l2 * weights[bucket];
                    squares[bucket] += gradient * gradient;
                    weights[bucket] -= rate * gradient / (squares[bucket] + EPSILON).sqrt();
                }
                for (slot, value) in example.features.dense.iter().enumerate() {
                    let gradient = error * value + options.l2 * dense[slot];
                    dense_squares[slot] += gradient * gradient;
                    dense[slot] -= rate * gradient / (dense_squares[slot] + EPSILON).sqrt();
                }
                bias_square += error * error;
                bias -= rate * error / (bias_square + EPSILON).sqrt();
            }
        }
        LearnedModel {
            weights,
            dense,
            bias,
            examples: examples.len() as u64,
            complaints: complaints as u64,
            file_rows: None,
        }
    }

    /// The complaint logit of a post.
    pub fn logit(&self, features: &Features) -> f32 {
        dot(&self.weights, &self.dense, self.bias, features)
    }

    /// The probability that a post is a complaint.
    pub fn probability(&self, features: &Features) -> f32 {
        sigmoid(self.logit(features))
    }

    /// The weight of a word's unigram feature (for explaining a verdict).
    pub fn word_weight(&self, word: &str) -> f32 {
        let (bucket, sign) = word_bucket(word);
        self.weights[bucket as usize] * sign
    }

    /// The model as bytes, for the store.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(48 + 4 * (DENSE + BUCKETS));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FEATURE_VERSION.to_le_bytes());
        bytes.extend_from_slice(&HASH_BITS.to_le_bytes());
        bytes.extend_from_slice(&(DENSE as u32).to_le_bytes());
        bytes.extend_from_slice(&self.examples.to_le_bytes());
        bytes.extend_from_slice(&self.complaints.to_le_bytes());
        bytes.extend_from_slice(&self.bias.to_le_bytes());
        for weight in self.dense.iter().chain(&self.weights) {
            bytes.extend_from_slice(&weight.to_le_bytes());
        }
        if let Some(rows) = self.file_rows {
            bytes.extend_from_slice(FILE_ROWS_TAG);
            bytes.extend_from_slice(&rows.to_le_bytes());
        }
        bytes
    }

    /// Reads a model written by [`LearnedModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<LearnedModel, ModelError> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(8)? != MAGIC {
            return Err(ModelError::Malformed);
        }
        let version = reader.u32()?;
        if version != FEATURE_VERSION {
            return Err(ModelError::OtherVersion { found: version });
        }
        if reader.u32()? != HASH_BITS || reader.u32()? as usize != DENSE {
            return Err(ModelError::OtherVersion { found: version });
        }
        let examples = reader.u64()?;
        let complaints = reader.u64()?;
        let bias = reader.f32()?;
        let mut dense = [0.0; DENSE];
        for slot in dense.iter_mut() {
            *slot = reader.f32()?;
        }
        let mut weights = Vec::with_capacity(BUCKETS);
        for _ in 0..BUCKETS {
            weights.push(reader.f32()?);
        }
        let file_rows = if reader.at == bytes.len() {
            None
        } else if reader.take(8)? == FILE_ROWS_TAG {
            Some(reader.u64()?)
        } else {
            return Err(ModelError::Malformed);
        };
        if reader.at != bytes.len() {
            return Err(ModelError::Malformed);
        }
        Ok(LearnedModel {
            weights,
            dense,
            bias,
            examples,
            complaints,
            file_rows,
        })
    }
}

/// How many examples a saved model says it was trained on, whatever its feature version (the
/// header's layout is the same in every version); `None` when it is not a model.
pub fn saved_examples(bytes: &[u8]) -> Option<u64> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(8).ok()? != MAGIC {
        return None;
    }
    reader.take(12).ok()?;
    reader.u64().ok()
}

fn dot(weights: &[f32], dense: &[f32; DENSE], bias: f32, features: &Features) -> f32 {
    let mut sum = bias;
    for &(bucket, value) in &features.sparse {
        sum += weights[bucket as usize] * value;
    }
    for (weight, value) in dense.iter().zip(&features.dense) {
        sum += weight * value;
    }
    sum
}

/// Fisher-Yates with xorshift64: deterministic for a seed, no dependency.
pub fn shuffle<T>(items: &mut [T], state: &mut u64) {
    for index in (1..items.len()).rev() {
        let other = (next_random(state) % (index as u64 + 1)) as usize;
        items.swap(index, other);
    }
}

fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> Result<&[u8], ModelError> {
        let slice = self
            .bytes
            .get(self.at..self.at + len)
            .ok_or(ModelError::Malformed)?;
        self.at += len;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        let mut buffer = [0; 4];
        buffer.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(buffer))
    }

    fn u64(&mut self) -> Result<u64, ModelError> {
        let mut buffer = [0; 8];
        buffer.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(buffer))
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_bits(self.u32()?))
    }
}
