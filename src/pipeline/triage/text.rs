//! Text normalization shared by the lexicon, the default scorer and the learned model.
//!
//! A post becomes one lowercased string of tokens separated by single spaces, so a phrase of
//! several tokens is a plain substring of it and can be looked up without allocating. Handles
//! become `@user`, links `<url>`, numbers `<num>`; `?` and `!` are tokens of their own.

use std::ops::Range;

/// A normalized post.
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    /// Tokens joined by single spaces.
    pub text: String,
    /// Each token's byte range in `text`.
    pub tokens: Vec<Range<usize>>,
    /// How many `@handles` the post has.
    pub mentions: u32,
    /// Whether the post starts with an `@handle` (a message addressed to someone).
    pub starts_with_mention: bool,
    /// How many links.
    pub urls: u32,
    /// How many words written in capitals (four letters or more: "CSV" is not shouting).
    pub shouted: u32,
}

impl Normalized {
    /// The `index`-th token.
    pub fn token(&self, index: usize) -> &str {
        &self.text[self.tokens[index].clone()]
    }

    /// The tokens `from..from + len` as one space-separated phrase, if there are that many.
    pub fn phrase(&self, from: usize, len: usize) -> Option<&str> {
        let last = self.tokens.get(from + len - 1)?;
        Some(&self.text[self.tokens[from].start..last.end])
    }
}

/// Normalizes a post's text.
pub fn normalize(raw: &str) -> Normalized {
    let mut out = Normalized {
        text: String::with_capacity(raw.len() + 8),
        tokens: Vec::with_capacity(raw.len() / 4 + 2),
        ..Normalized::default()
    };
    let raw = decode_entities(raw);
    let mut first_word = true;
    for chunk in raw.split_whitespace() {
        if chunk.starts_with("http://")
            || chunk.starts_with("https://")
            || chunk.starts_with("www.")
        {
            out.urls += 1;
            push(&mut out, "<url>");
            first_word = false;
            continue;
        }
        if chunk.len() > 1 && chunk.starts_with('@') {
            out.mentions += 1;
            if first_word {
                out.starts_with_mention = true;
            }
            push(&mut out, "@user");
            // Keep trailing punctuation such as "@acme?".
            for c in chunk.chars().rev().take_while(|c| *c == '?' || *c == '!') {
                push_punct(&mut out, c);
            }
            first_word = false;
            continue;
        }
        first_word = false;
        split_words(chunk, &mut out);
    }
    out
}

fn split_words(chunk: &str, out: &mut Normalized) {
    let mut word = String::new();
    let mut letters = 0;
    let mut upper = 0;
    let flush = |word: &mut String, letters: &mut u32, upper: &mut u32, out: &mut Normalized| {
        let trimmed = word.trim_matches('\'');
        if !trimmed.is_empty() {
            if *letters >= 4 && *upper == *letters {
                out.shouted += 1;
            }
            if trimmed.chars().all(|c| c.is_ascii_digit()) {
                push(out, "<num>");
            } else {
                push(out, trimmed);
            }
        }
        word.clear();
        *letters = 0;
        *upper = 0;
    };
    let mut last: Option<char> = None;
    let mut repeats = 0;
    for c in chunk.chars() {
        let c = if c == '’' || c == '‘' { '\'' } else { c };
        if c.is_alphanumeric() || c == '\'' {
            if c.is_alphabetic() {
                letters += 1;
                if c.is_uppercase() {
                    upper += 1;
                }
            }
            for lower in c.to_lowercase() {
                // "soooo" and "sooo" are the same word: keep at most two repeats.
                if Some(lower) == last {
                    repeats += 1;
                    if repeats >= 2 {
                        continue;
                    }
                } else {
                    repeats = 0;
                }
                last = Some(lower);
                word.push(lower);
            }
        } else {
            flush(&mut word, &mut letters, &mut upper, out);
            last = None;
            if c == '?' || c == '!' {
                push_punct(out, c);
            }
        }
    }
    flush(&mut word, &mut letters, &mut upper, out);
}

fn push_punct(out: &mut Normalized, c: char) {
    let token = if c == '?' { "?" } else { "!" };
    // "??!" counts once: the marks are a signal, their number barely is.
    if out.tokens.last().map(|range| &out.text[range.clone()]) == Some(token) {
        return;
    }
    push(out, token);
}

fn push(out: &mut Normalized, token: &str) {
    if !out.text.is_empty() {
        out.text.push(' ');
    }
    let start = out.text.len();
    out.text.push_str(token);
    out.tokens.push(start..out.text.len());
}

/// Decodes the few HTML entities that posts carry (`&amp;` and friends).
fn decode_entities(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('&') {
        return std::borrow::Cow::Borrowed(raw);
    }
    std::borrow::Cow::Owned(
        raw.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_normalized() {
        let table: &[(&str, &str)] = &[
            ("@Acme why?? NOOOO", "@user why ? noo"),
            ("it’s broken!!! https://t.co/x", "it's broken ! <url>"),
            ("order 12345 &amp; refund", "order <num> refund"),
            ("can't log in, again.", "can't log in again"),
            ("'quoted' words", "quoted words"),
        ];
        for (raw, expected) in table {
            assert_eq!(normalize(raw).text, *expected, "{raw:?}");
        }
        let post = normalize("@acme HELLO there CSV @bob");
        assert_eq!(post.mentions, 2);
        assert!(post.starts_with_mention);
        assert_eq!(post.shouted, 1);
        assert_eq!(post.phrase(1, 2), Some("hello there"));
        assert_eq!(post.phrase(4, 2), None);
    }
}
