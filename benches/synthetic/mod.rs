//! Synthetic cases as `benches/scale.rs` writes them, shared with the example that trains the
//! store's compression dictionary (`examples/store_dictionary.rs`; a directory module, so cargo does not take it for a bench).
//!
//! The texts are not a handful of templates (a dictionary would learn them whole and flatter
//! the store's size): each post is 80 to 280 characters of words drawn from `words.txt`
//! (3,392 distinct words, the most frequent words of this repository's Markdown and code
//! comments, most frequent first) with a Zipf-like law (rank r drawn with probability ~1/r, as
//! in natural language), sometimes a brand handle, an order number, a price or an emoji.
//! Authors, handles, display names and post ids are distinct per customer/post and shaped as
//! each network writes them (X snowflakes, Bluesky `at://` URIs with TID rkeys of the post's
//! time, and DIDs, Mastodon ids and `user@instance` handles).
//!
//! `words.txt` was made once with:
//! `(cat *.md; git ls-files | grep -E '\.rs$' | xargs cat | grep -oE '//[/!]? .*') | tr 'A-Z' 'a-z' | grep -oE "[a-z]{2,14}" | sort | uniq -c | sort -k1,1rn -k2 | head -4000 | awk '{print $2}'`

#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};

use mentiondesk::domain::{
    Agent, Author, Case, CaseEvent, CaseId, CaseState, Label, Mention, MentionKind, MessageRef,
    Network, Triage,
};
use mentiondesk::sources::bluesky::tid_encode;
use mentiondesk::store::{PostOrigin, StoredPost};

const WORDS: &str = include_str!("words.txt");

/// Customers the cases are spread over.
pub const CUSTOMERS: u64 = 50_000;

/// A small deterministic generator (splitmix64): the same seed writes the same store.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The word list, most frequent first.
pub fn words() -> Vec<&'static str> {
    WORDS.lines().filter(|line| !line.is_empty()).collect()
}

fn word<'a>(words: &[&'a str], rng: &mut Rng) -> &'a str {
    // Rank r with probability ~ 1/r: r = n^u - 1 for u uniform in [0, 1).
    let rank = (words.len() as f64).powf(rng.unit()) as usize - 1;
    words[rank.min(words.len() - 1)]
}

fn base32(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..len)
        .map(|_| char::from(ALPHABET[rng.below(32) as usize]))
        .collect()
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A post text of 80 to 280 characters.
pub fn text(words: &[&str], rng: &mut Rng) -> String {
    let target = 80 + rng.below(201) as usize;
    let mut text = String::with_capacity(target + 16);
    match rng.below(4) {
        0 => text.push_str("@AcmeSupport "),
        1 => text.push_str("@acme.bsky.social "),
        _ => {}
    }
    let mut sentence_start = true;
    while text.len() < target {
        let mut next = match rng.below(40) {
            0 => format!("#{}", 10_000 + rng.below(90_000)),
            1 => format!("${}.{:02}", rng.below(300), rng.below(100)),
            2 => ["😞", "🙄", "😡", "👍", "🔥"][rng.below(5) as usize].to_string(),
            _ => word(words, rng).to_string(),
        };
        if sentence_start {
            next = capitalized(&next);
        }
        text.push_str(&next);
        sentence_start = rng.below(9) == 0;
        text.push_str(if sentence_start {
            [". ", "! ", "? "][rng.below(3) as usize]
        } else {
            " "
        });
    }
    let mut end = target.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.trim_end().to_string()
}

/// The customer `number`'s account on `network`: distinct ids, handles and names.
pub fn author(network: Network, number: u64, words: &[&str]) -> Author {
    let mut rng = Rng::new(number.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xA5A5);
    let first = capitalized(word(words, &mut rng));
    let last = capitalized(word(words, &mut rng));
    let handle_base = format!(
        "{}{}{}",
        first.to_lowercase(),
        last.to_lowercase(),
        number % 997
    );
    let (id, handle) = match network {
        Network::X => (
            format!(
                "{}",
                1_400_000_000_000_000_000 + rng.below(700_000_000_000_000_000)
            ),
            handle_base,
        ),
        Network::Bluesky => (
            format!("did:plc:{}", base32(&mut rng, 24)),
            format!("{handle_base}.bsky.social"),
        ),
        Network::Mastodon => (
            format!(
                "{}",
                109_000_000_000_000_000 + rng.below(9_000_000_000_000_000)
            ),
            format!(
                "{handle_base}@{}",
                [
                    "mastodon.social",
                    "fosstodon.org",
                    "hachyderm.io",
                    "mstdn.social"
                ][rng.below(4) as usize]
            ),
        ),
    };
    Author {
        id,
        handle,
        display_name: Some(format!("{first} {last}")),
        followers: Some(rng.below(5_000)),
    }
}

/// The `n`th synthetic mention, posted at `at` by one of `CUSTOMERS` customers. `salt` picks
/// another set of customers and texts (the dictionary is trained on salt 1, the scale bench
/// writes salt 0).
pub fn mention(n: u64, salt: u64, at: DateTime<Utc>, words: &[&str]) -> Mention {
    let network = [Network::X, Network::Bluesky, Network::Mastodon][(n % 3) as usize];
    let author = author(network, n % CUSTOMERS + salt * CUSTOMERS, words);
    let mut rng = Rng::new(n ^ 0x5DEE_CE66_D1CE_4E5B ^ salt.wrapping_mul(0x9E37_79B9));
    let (id, url) = match network {
        Network::X => {
            let id = format!(
                "{}",
                2_000_000_000_000_000_000 + n * 1_000_003 + rng.below(1_000)
            );
            let url = format!("https://x.com/{}/status/{id}", author.handle);
            (id, url)
        }
        Network::Bluesky => {
            // A TID, as Bluesky writes a post's rkey: the post's time in microseconds and a
            // random 10-bit clock id.
            let micros = at.timestamp_micros().max(0) as u64;
            let rkey = tid_encode((micros << 10) | rng.below(1024));
            (
                format!("at://{}/app.bsky.feed.post/{rkey}", author.id),
                format!("https://bsky.app/profile/{}/post/{rkey}", author.handle),
            )
        }
        Network::Mastodon => {
            let id = format!(
                "{}",
                115_000_000_000_000_000 + n * 65_537 + rng.below(1_000)
            );
            let (user, instance) = author.handle.split_once('@').unwrap_or(("", ""));
            (id.clone(), format!("https://{instance}/@{user}/{id}"))
        }
    };
    Mention {
        network,
        source: ["x", "bluesky", "mastodon"][(n % 3) as usize].into(),
        id,
        url,
        author,
        text: text(words, &mut rng),
        created_at: at,
        in_reply_to: None,
        root: None,
        kind: MentionKind::Mention,
        lang: Some("en".into()),
        from_brand: false,
        raw: None,
    }
}

/// The `n`th opened case as the scale bench stores it: the case (90 % resolved by one of
/// twelve agents, 10 % still open with a first-response clock), its events, and the post
/// record of its opening post (without the mention: the case holds it, as the pipeline does).
pub fn opened_case(
    id: CaseId,
    n: u64,
    salt: u64,
    opened_at: DateTime<Utc>,
    words: &[&str],
) -> (Case, Vec<CaseEvent>, Mention, StoredPost) {
    let mention = mention(n, salt, opened_at, words);
    let triage = Triage {
        label: Label::Complaint,
        score: 0.8,
        reason: "cues: offline, on hold; negative".into(),
    };
    let mut opened = Case::open(id, mention.clone(), triage.clone(), opened_at);
    let case = &mut opened.case;
    case.first_response_due = Some(opened_at + Duration::hours(1));
    case.chat_refs.insert(
        "console".into(),
        MessageRef {
            channel: "mentions".into(),
            message: format!("{:012}", id.0),
            thread: None,
        },
    );
    case.card_versions.insert("console".into(), 1);
    if n % 10 != 0 {
        case.state = CaseState::Resolved;
        case.owner = Some(Agent::new(
            format!("console:agent{}", n % 12),
            format!("Agent {}", n % 12),
        ));
        case.first_response_at = Some(opened_at + Duration::minutes(20));
        case.closed_at = Some(opened_at + Duration::hours(2));
    }
    let post = StoredPost {
        case: Some(id),
        origin: PostOrigin::Customer,
        triage: Some(triage),
        mention: None,
        stored_at: opened_at,
    };
    (opened.case, opened.events, mention, post)
}

/// Cases opened (as `opened_case` does) by the hand-written demo mentions of
/// `examples/mentions.jsonl`: real-looking texts, ids and names that no generator made, to
/// check that sizes measured on synthetic records hold for them.
pub fn demo_cases(words: &[&str]) -> Vec<(Case, Vec<CaseEvent>, StoredPost)> {
    let text = include_str!("../../examples/mentions.jsonl");
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(object) = value.as_object_mut() {
            object.remove("after_ms");
        }
        let Ok(mention) = serde_json::from_value::<Mention>(value) else {
            continue;
        };
        let (mut case, events, _, post) = opened_case(
            CaseId(index as u64 + 1),
            index as u64,
            3,
            mention.created_at,
            words,
        );
        case.customer = mention.author.clone();
        case.latest_customer_post = mention.post_ref();
        case.conversation_root = mention.post_ref();
        case.network = mention.network;
        case.source = mention.source.clone();
        case.opening = mention;
        out.push((case, events, post));
    }
    out
}
