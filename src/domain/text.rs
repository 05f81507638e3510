//! Text rules: reply length as each network counts it, truncation, and PII masking.

use std::sync::LazyLock;

use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

use super::mention::Network;

/// How many characters a URL counts for on X and Mastodon, whatever its real length.
pub const URL_WEIGHT: usize = 23;

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"https?://[^\s]+").expect("static regex"));
static REMOTE_MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(@[A-Za-z0-9_]+)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("static regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("static regex")
});
static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\d[\d ().-]*\d").expect("static regex"));

/// The length of `text` as `network` counts it against its limit: graphemes on Bluesky,
/// characters on Mastodon (a URL is 23, `@user@domain` counts as `@user`), and X's weighted
/// length (a URL is 23, most non-Latin characters and emoji count 2).
pub fn reply_length(network: Network, text: &str) -> usize {
    match network {
        Network::Bluesky => text.graphemes(true).count(),
        Network::Mastodon => {
            let without_domains = REMOTE_MENTION.replace_all(text, "$1");
            count_with_urls(&without_domains, |segment| segment.chars().count())
        }
        Network::X => count_with_urls(text, |segment| {
            segment.graphemes(true).map(x_grapheme_weight).sum()
        }),
    }
}

fn count_with_urls(text: &str, count: impl Fn(&str) -> usize) -> usize {
    let mut total = 0;
    let mut last = 0;
    for url in URL.find_iter(text) {
        total += count(&text[last..url.start()]) + URL_WEIGHT;
        last = url.end();
    }
    total + count(&text[last..])
}

/// X counts a grapheme as 1 when its first code point is in the Latin-ish ranges of
/// twitter-text's v3 configuration, and 2 otherwise (CJK, emoji, ...).
fn x_grapheme_weight(grapheme: &str) -> usize {
    let first = grapheme.chars().next().map(u32::from).unwrap_or(0);
    let light = matches!(first, 0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247);
    if light {
        1
    } else {
        2
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when it had to cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A kind of personal data found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A payment-card-like number (13 to 19 digits passing the Luhn check).
    Card,
}

impl PiiKind {
    /// The name used in masks and warnings.
    pub fn label(self) -> &'static str {
        match self {
            PiiKind::Email => "e-mail address",
            PiiKind::Phone => "phone number",
            PiiKind::Card => "card number",
        }
    }
}

/// Finds personal data: byte ranges and kinds, in text order, not overlapping.
pub fn find_pii(text: &str) -> Vec<(std::ops::Range<usize>, PiiKind)> {
    let mut found = Vec::new();
    for email in EMAIL.find_iter(text) {
        // `@user@instance.social` is a Mastodon handle, not an address.
        let preceded_by_at = text[..email.start()].ends_with('@');
        if !preceded_by_at {
            found.push((email.range(), PiiKind::Email));
        }
    }
    for run in DIGIT_RUN.find_iter(text) {
        if found.iter().any(|(range, _)| overlaps(range, &run.range())) {
            continue;
        }
        let digits: Vec<u32> = run
            .as_str()
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        let kind = if (13..=19).contains(&digits.len()) && luhn(&digits) {
            Some(PiiKind::Card)
        } else if (9..=15).contains(&digits.len()) && looks_like_phone(run.as_str()) {
            Some(PiiKind::Phone)
        } else {
            None
        };
        if let Some(kind) = kind {
            found.push((run.range(), kind));
        }
    }
    found.sort_by_key(|(range, _)| range.start);
    found
}

/// Replaces personal data with `[e-mail address hidden]` and the like.
pub fn mask_pii(text: &str) -> String {
    let found = find_pii(text);
    if found.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (range, kind) in found {
        out.push_str(&text[last..range.start]);
        out.push('[');
        out.push_str(kind.label());
        out.push_str(" hidden]");
        last = range.end;
    }
    out.push_str(&text[last..]);
    out
}

fn overlaps(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

fn looks_like_phone(run: &str) -> bool {
    // Dates and amounts use dots or no separators at all; phone numbers start with `+`,
    // or group their digits with spaces, dashes or parentheses.
    run.starts_with('+') || run.contains([' ', '-', '(']) || run.len() >= 10
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, &digit)| {
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                digit
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_length(network: Network, text: &str, expected: usize) {
        assert_eq!(
            reply_length(network, text),
            expected,
            "{network:?} {text:?}"
        );
    }

    #[test]
    fn lengths_are_counted_the_way_each_network_counts() {
        check_length(Network::Bluesky, "hello", 5);
        check_length(Network::Bluesky, "👩‍👩‍👧 ok", 4);
        check_length(
            Network::Mastodon,
            "see https://example.com/a/very/long/path/indeed",
            27,
        );
        check_length(Network::Mastodon, "@jo@mastodon.social hi", 6);
        check_length(Network::X, "hi https://t.co/x", 26);
        check_length(Network::X, "日本", 4);
        check_length(Network::X, "ok 👍", 5);
    }

    fn check_mask(input: &str, expected: &str) {
        assert_eq!(mask_pii(input), expected, "{input:?}");
    }

    #[test]
    fn personal_data_is_masked_and_handles_are_not() {
        check_mask(
            "mail me at jo.doe@example.com please",
            "mail me at [e-mail address hidden] please",
        );
        check_mask("@acme@mastodon.social help", "@acme@mastodon.social help");
        check_mask(
            "call +44 20 7946 0958 now",
            "call [phone number hidden] now",
        );
        check_mask(
            "card 4111 1111 1111 1111 charged twice",
            "card [card number hidden] charged twice",
        );
        check_mask("order 4471223 is late", "order 4471223 is late");
        check_mask("on 2026-11-20 at 10.30", "on 2026-11-20 at 10.30");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("abc", 4), "abc");
    }
}
