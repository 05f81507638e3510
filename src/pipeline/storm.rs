//! Storm collapse: near-identical complaints within a window (retweets, copy-paste campaigns,
//! an outage) join one **incident** case instead of opening one card each.
//!
//! Pure: no IO, no clock (callers pass `now`). A post's text is normalized (lowercase, `RT @x:`
//! prefixes, handles, links and punctuation dropped), cut into overlapping character
//! shingles, and summarized by a MinHash [`Signature`]: the share of equal slots between two
//! signatures estimates the Jaccard similarity of their shingle sets.
//!
//! The [`StormWindow`] keeps one [`Cluster`] per recent complaint case that could become (or
//! is) an incident: its opening post's signature, how many similar posts were seen, and when
//! the last one was. A new complaint is compared with each cluster (one comparison per
//! cluster, not per post: a storm of 10,000 posts is one cluster). The pipeline persists the
//! clusters with the case changes they come with, so the window survives a restart.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::CaseId;

/// How many hash functions a signature has. 64 slots estimate a Jaccard similarity to about
/// ±0.06 (one standard deviation at 0.5), plenty to tell "near-identical" from "related".
pub const SIGNATURE_SLOTS: usize = 64;

/// Shingle length, in characters. Five-character shingles of a short post change locally
/// when one word changes, so one edited word costs a few shingles, not the whole post.
const SHINGLE_CHARS: usize = 5;

/// What the storm collapse needs from config (`[triage.storm]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StormRules {
    /// Whether similar complaints collapse at all.
    pub enabled: bool,
    /// The estimated Jaccard similarity, 0..=1, from which two posts count as near-identical.
    pub threshold: f32,
    /// How long after its last similar post a cluster still collects members.
    pub window: Duration,
    /// How many near-identical posts make an incident: the first `min_members - 1` get their
    /// own cards, the next ones join the first post's case.
    pub min_members: u32,
}

impl Default for StormRules {
    fn default() -> Self {
        StormRules::from(&crate::config::StormSettings::default())
    }
}

impl From<&crate::config::StormSettings> for StormRules {
    fn from(settings: &crate::config::StormSettings) -> Self {
        StormRules {
            enabled: settings.enabled,
            threshold: settings.threshold,
            window: settings.window,
            min_members: settings.min_members,
        }
    }
}

/// A post's MinHash signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Signature(Vec<u32>);

impl Signature {
    /// The signature of a post's text.
    pub fn of(text: &str) -> Signature {
        let normalized = normalize(text);
        let chars: Vec<char> = normalized.chars().collect();
        let mut slots = vec![u32::MAX; SIGNATURE_SLOTS];
        let mut add = |shingle: &[char]| {
            let hash = shingle_hash(shingle);
            for (slot, (multiplier, addend)) in slots.iter_mut().zip(PERMUTATIONS.iter()) {
                // Multiply-shift hashing: the high 32 bits of a*h+b for an odd a.
                let value = (multiplier.wrapping_mul(hash).wrapping_add(*addend) >> 32) as u32;
                if value < *slot {
                    *slot = value;
                }
            }
        };
        if chars.len() <= SHINGLE_CHARS {
            if !chars.is_empty() {
                add(&chars);
            }
        } else {
            for shingle in chars.windows(SHINGLE_CHARS) {
                add(shingle);
            }
        }
        Signature(slots)
    }

    /// The estimated Jaccard similarity of two posts, 0..=1 (empty texts are similar to
    /// nothing).
    pub fn similarity(&self, other: &Signature) -> f32 {
        if self.0.len() != other.0.len() || self.is_empty() || other.is_empty() {
            return 0.0;
        }
        let equal = self.0.iter().zip(&other.0).filter(|(a, b)| a == b).count();
        equal as f32 / self.0.len() as f32
    }

    /// A text with no words (only links, handles or punctuation) has an empty signature.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&slot| slot == u32::MAX)
    }
}

/// The text a signature is computed from: lowercase words of letters and digits separated by
/// single spaces, without a retweet prefix (`RT @x:`), handles or links.
pub fn normalize(text: &str) -> String {
    let mut rest = text.trim_start();
    // Retweets and manual quote-posts: "RT @someone: the text".
    while let Some(after) = rest
        .strip_prefix("RT ")
        .or_else(|| rest.strip_prefix("rt "))
    {
        let after = after.trim_start();
        match after.split_once(char::is_whitespace) {
            Some((handle, tail)) if handle.starts_with('@') => rest = tail.trim_start(),
            _ => break,
        }
    }
    let mut out = String::with_capacity(rest.len());
    for chunk in rest.split_whitespace() {
        let lower = chunk.to_lowercase();
        if chunk.starts_with('@')
            || lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("www.")
        {
            continue;
        }
        for word in lower.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// FNV-1a over a shingle's characters, then a finalizer so nearby shingles spread out.
fn shingle_hash(shingle: &[char]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in shingle {
        hash ^= c as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix(hash)
}

const fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The (odd multiplier, addend) of each slot's hash function, fixed at compile time so
/// signatures stored before a restart compare with new ones.
const PERMUTATIONS: [(u64, u64); SIGNATURE_SLOTS] = {
    let mut table = [(0u64, 0u64); SIGNATURE_SLOTS];
    let mut index = 0;
    while index < SIGNATURE_SLOTS {
        let seed = (index as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
        table[index] = (splitmix(seed) | 1, splitmix(seed ^ 0x5851_f42d_4c95_7f2d));
        index += 1;
    }
    table
};

/// One recent complaint case and the near-identical posts seen since it opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// The case its first post opened: the incident, once it collects members.
    pub case: CaseId,
    /// The first post's signature; every later post is compared with it.
    pub signature: Signature,
    /// Near-identical posts seen, the first one included (those that got their own card too).
    pub posts: u32,
    /// When the last one was seen.
    pub last_seen: DateTime<Utc>,
}

/// What to do with a complaint, given the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StormDecision {
    /// Open a case of its own and start a cluster for it.
    Open,
    /// Open a case of its own: the post is similar to the cluster of `case`, which does not
    /// have `min_members` posts yet (the cluster counts it).
    OpenCounted {
        /// The cluster's case.
        case: CaseId,
    },
    /// Join the incident `case` as a member.
    Join {
        /// The incident.
        case: CaseId,
    },
}

/// The recent clusters, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StormWindow {
    clusters: Vec<Cluster>,
}

impl StormWindow {
    /// A window holding `clusters` (e.g. as loaded from the store).
    pub fn new(mut clusters: Vec<Cluster>) -> StormWindow {
        clusters.sort_by_key(|cluster| cluster.case);
        StormWindow { clusters }
    }

    /// The clusters, oldest first.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Drops the clusters whose last post is older than the window; returns their cases.
    pub fn expire(&mut self, rules: &StormRules, now: DateTime<Utc>) -> Vec<CaseId> {
        let window = chrono::Duration::from_std(rules.window).unwrap_or(chrono::Duration::MAX);
        let mut expired = Vec::new();
        self.clusters.retain(|cluster| {
            let keep = now.signed_duration_since(cluster.last_seen) <= window;
            if !keep {
                expired.push(cluster.case);
            }
            keep
        });
        expired
    }

    /// Decides what a complaint with `signature` becomes, and counts it in its cluster.
    /// Returns the cluster that changed (to persist) with the decision. The caller opens a
    /// case for `Open` and registers it with [`StormWindow::start`].
    pub fn observe(
        &mut self,
        rules: &StormRules,
        signature: &Signature,
        now: DateTime<Utc>,
    ) -> (StormDecision, Option<&Cluster>) {
        if !rules.enabled || signature.is_empty() {
            return (StormDecision::Open, None);
        }
        let window = chrono::Duration::from_std(rules.window).unwrap_or(chrono::Duration::MAX);
        // The most similar live cluster; the oldest wins ties, so a storm keeps its first case.
        let mut best: Option<(usize, f32)> = None;
        for (index, cluster) in self.clusters.iter().enumerate() {
            if now.signed_duration_since(cluster.last_seen) > window {
                continue;
            }
            let similarity = cluster.signature.similarity(signature);
            let better = match best {
                Some((_, top)) => similarity > top,
                None => true,
            };
            if similarity >= rules.threshold && better {
                best = Some((index, similarity));
            }
        }
        let Some((index, _)) = best else {
            return (StormDecision::Open, None);
        };
        let cluster = &mut self.clusters[index];
        cluster.posts += 1;
        cluster.last_seen = cluster.last_seen.max(now);
        let decision = if cluster.posts >= rules.min_members {
            StormDecision::Join { case: cluster.case }
        } else {
            StormDecision::OpenCounted { case: cluster.case }
        };
        (decision, Some(&self.clusters[index]))
    }

    /// Starts a cluster for a case just opened by a post with `signature`.
    pub fn start(&mut self, case: CaseId, signature: Signature, now: DateTime<Utc>) -> &Cluster {
        self.clusters.push(Cluster {
            case,
            signature,
            posts: 1,
            last_seen: now,
        });
        self.clusters.last().expect("just pushed")
    }

    /// Forgets the cluster of `case` (its case was closed: a new storm opens a new case).
    pub fn forget(&mut self, case: CaseId) {
        self.clusters.retain(|cluster| cluster.case != case);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const OUTAGE: &str = "@AcmeSupport your app has been down all morning, I can't log in and my orders are stuck. Fix it!";

    /// (name, a, b, lowest similarity, highest similarity)
    #[test]
    fn similarity_table() {
        let cases: &[(&str, &str, &str, f32, f32)] = &[
            ("identical", OUTAGE, OUTAGE, 1.0, 1.0),
            (
                "retweet prefix",
                OUTAGE,
                &format!("RT @jo_doe: {OUTAGE}"),
                1.0,
                1.0,
            ),
            (
                "other handle, link and case",
                OUTAGE,
                "@acme YOUR APP HAS BEEN DOWN ALL MORNING, i can't log in and my orders are stuck. fix it! https://t.co/x1",
                1.0,
                1.0,
            ),
            (
                "one word changed",
                OUTAGE,
                "@AcmeSupport your app has been down all afternoon, I can't log in and my orders are stuck. Fix it!",
                0.6,
                0.95,
            ),
            (
                "a word added",
                OUTAGE,
                "@AcmeSupport your app has been down all morning, I still can't log in and my orders are stuck. Fix it!",
                0.7,
                0.95,
            ),
            (
                "same topic, other words",
                OUTAGE,
                "@AcmeSupport is the app down? Login fails for me since 9am",
                0.0,
                0.3,
            ),
            (
                "unrelated",
                OUTAGE,
                "@AcmeSupport I was charged twice for my March invoice, please refund one of them",
                0.0,
                0.15,
            ),
            ("empty is similar to nothing", "", "", 0.0, 0.0),
            ("links only", "https://a.example", "https://a.example", 0.0, 0.0),
        ];
        for (name, a, b, low, high) in cases {
            let similarity = Signature::of(a).similarity(&Signature::of(b));
            assert!(
                (*low..=*high).contains(&similarity),
                "{name}: {similarity} not in {low}..={high}"
            );
        }
    }

    #[test]
    fn normalize_table() {
        let cases = [
            ("RT @x: Hello, World!", "hello world"),
            ("rt @x: RT @y: down again", "down again"),
            ("RT this is not a retweet", "rt this is not a retweet"),
            ("@acme ça ne marche pas https://x.co/1", "ça ne marche pas"),
            ("Order #1234 — still   stuck!!", "order 1234 still stuck"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input), expected, "{input:?}");
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    #[test]
    fn a_storm_joins_the_first_case_once_it_has_min_members() {
        let rules = StormRules {
            min_members: 3,
            ..StormRules::default()
        };
        let mut window = StormWindow::default();
        let outage = Signature::of(OUTAGE);
        assert_eq!(
            window.observe(&rules, &outage, at(0)).0,
            StormDecision::Open
        );
        window.start(CaseId(1), outage.clone(), at(0));
        let (second, _) = window.observe(&rules, &outage, at(1));
        assert_eq!(second, StormDecision::OpenCounted { case: CaseId(1) });
        let (third, cluster) = window.observe(&rules, &outage, at(2));
        assert_eq!(third, StormDecision::Join { case: CaseId(1) });
        assert_eq!(cluster.map(|c| c.posts), Some(3));
        // Unrelated posts open their own case.
        let refund = Signature::of("I was charged twice for my March invoice, refund please");
        assert_eq!(
            window.observe(&rules, &refund, at(3)).0,
            StormDecision::Open
        );
    }

    #[test]
    fn a_quiet_cluster_expires_and_the_window_slides_with_its_members() {
        let rules = StormRules {
            window: Duration::from_secs(600),
            ..StormRules::default()
        };
        let mut window = StormWindow::default();
        let outage = Signature::of(OUTAGE);
        window.start(CaseId(1), outage.clone(), at(0));
        // Each member extends the cluster's life.
        for minute in [8, 16, 24] {
            assert_eq!(
                window.observe(&rules, &outage, at(minute)).0,
                StormDecision::Join { case: CaseId(1) }
            );
        }
        assert_eq!(window.expire(&rules, at(30)), Vec::<CaseId>::new());
        assert_eq!(window.expire(&rules, at(35)), vec![CaseId(1)]);
        assert_eq!(
            window.observe(&rules, &outage, at(36)).0,
            StormDecision::Open
        );
    }

    #[test]
    fn disabled_never_collapses() {
        let rules = StormRules {
            enabled: false,
            ..StormRules::default()
        };
        let mut window = StormWindow::default();
        let outage = Signature::of(OUTAGE);
        window.start(CaseId(1), outage.clone(), at(0));
        assert_eq!(
            window.observe(&rules, &outage, at(1)).0,
            StormDecision::Open
        );
    }

    #[test]
    fn signatures_survive_serde() {
        let signature = Signature::of(OUTAGE);
        let json = serde_json::to_string(&signature).unwrap();
        let back: Signature = serde_json::from_str(&json).unwrap();
        assert_eq!(back, signature);
        assert_eq!(back.similarity(&Signature::of(OUTAGE)), 1.0);
    }
}
