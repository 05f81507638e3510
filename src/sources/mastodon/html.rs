//! Mastodon's sanitized status HTML to the plain text a card shows and triage reads.
//!
//! Mastodon sends `<p>`, `<br>`, `<span>` and `<a>` (remote servers may add a few formatting
//! tags such as lists, quotes and code). Paragraphs become blank-line breaks, `<br>` a line
//! break, a mention link `@user` (or the full `@user@domain` when the status's mention list
//! knows the link), other links their text (Mastodon splits a long URL over visible and
//! invisible spans: joined, they are the whole URL), and entities are decoded. Whitespace in
//! text collapses as a browser would. Unknown tags are dropped, their text kept; nothing here
//! can fail or panic on bad markup.

use std::collections::HashMap;

/// Converts status HTML to plain text. `mentions` maps a mention link's `href` to the account
/// it names (`acct`), so `@user` can be written in full.
pub fn to_text(html: &str, mentions: &HashMap<String, String>) -> String {
    let mut out = Output::default();
    let mut rest = html;
    // The text of the mention link being read, if any, and its `acct` when known.
    let mut link: Option<Link> = None;
    let mut skipping: Option<String> = None;
    let mut in_pre = 0usize;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            emit_text(&mut out, &mut link, rest, in_pre > 0, skipping.is_some());
            break;
        };
        emit_text(
            &mut out,
            &mut link,
            &rest[..open],
            in_pre > 0,
            skipping.is_some(),
        );
        rest = &rest[open..];
        let Some(length) = tag_length(rest) else {
            // A lone `<` that opens no tag is text.
            emit_text(&mut out, &mut link, "<", in_pre > 0, skipping.is_some());
            rest = &rest[1..];
            continue;
        };
        let tag = Tag::parse(&rest[1..length - 1]);
        rest = &rest[length..];
        if let Some(skipped) = &skipping {
            if tag.closing && &tag.name == skipped {
                skipping = None;
            }
            continue;
        }
        match (tag.name.as_str(), tag.closing) {
            ("script" | "style", false) => skipping = Some(tag.name.clone()),
            ("br", _) => out.line_break(),
            (
                "p" | "div" | "blockquote" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6",
                _,
            ) => out.paragraph_break(),
            ("pre", closing) => {
                out.paragraph_break();
                in_pre = if closing {
                    in_pre.saturating_sub(1)
                } else {
                    in_pre + 1
                };
            }
            ("li", false) => {
                out.line_break();
                out.push_str("- ");
            }
            ("a", false) => {
                let acct = tag
                    .attribute("class")
                    .filter(|class| class.split_whitespace().any(|c| c == "mention"))
                    .filter(|class| !class.split_whitespace().any(|c| c == "hashtag"))
                    .and(tag.attribute("href"))
                    .and_then(|href| mentions.get(href))
                    .cloned();
                link = Some(Link {
                    acct,
                    text: String::new(),
                });
            }
            ("a", true) => {
                if let Some(finished) = link.take() {
                    match finished.acct {
                        Some(acct) => {
                            out.push_str("@");
                            out.push_str(&acct);
                        }
                        None => out.push_str(&finished.text),
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(unfinished) = link.take() {
        out.push_str(&unfinished.text);
    }
    out.finish()
}

struct Link {
    acct: Option<String>,
    text: String,
}

fn emit_text(out: &mut Output, link: &mut Option<Link>, raw: &str, pre: bool, skipping: bool) {
    if raw.is_empty() || skipping {
        return;
    }
    let decoded = decode_entities(raw);
    let text = if pre {
        decoded
    } else {
        collapse_whitespace(&decoded)
    };
    match link {
        Some(link) => link.text.push_str(&text),
        None => out.push_str(&text),
    }
}

/// The text being built: line breaks are kept, spaces around them are not.
#[derive(Default)]
struct Output {
    text: String,
}

impl Output {
    fn push_str(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        // No space at the start of a line.
        let text = if self.text.is_empty() || self.text.ends_with('\n') {
            text.trim_start_matches(' ')
        } else if self.text.ends_with(' ') && text.starts_with(' ') {
            &text[1..]
        } else {
            text
        };
        self.text.push_str(text);
    }

    fn line_break(&mut self) {
        self.trim_trailing_spaces();
        self.text.push('\n');
    }

    fn paragraph_break(&mut self) {
        self.trim_trailing_spaces();
        if self.text.is_empty() || self.text.ends_with("\n\n") {
            return;
        }
        if self.text.ends_with('\n') {
            self.text.push('\n');
        } else {
            self.text.push_str("\n\n");
        }
    }

    fn trim_trailing_spaces(&mut self) {
        let kept = self.text.trim_end_matches(' ').len();
        self.text.truncate(kept);
    }

    fn finish(self) -> String {
        self.text.trim().to_string()
    }
}

fn collapse_whitespace(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    let mut in_space = false;
    for character in text.chars() {
        // A non-breaking space is kept as it was typed.
        if character.is_whitespace() && character != '\u{a0}' {
            if !in_space {
                collapsed.push(' ');
            }
            in_space = true;
        } else {
            collapsed.push(character);
            in_space = false;
        }
    }
    collapsed
}

/// The byte length of the tag starting at `text[0] == '<'`, quotes respected; `None` if this
/// `<` does not start a tag.
fn tag_length(text: &str) -> Option<usize> {
    let after = text[1..].chars().next()?;
    if !(after.is_ascii_alphabetic() || after == '/' || after == '!') {
        return None;
    }
    let mut quote: Option<char> = None;
    for (index, character) in text.char_indices().skip(1) {
        match (quote, character) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(character),
            (None, '>') => return Some(index + 1),
            (None, _) => {}
        }
    }
    None
}

/// A parsed tag: lowercase name, whether it closes, its attributes.
struct Tag {
    name: String,
    closing: bool,
    attributes: Vec<(String, String)>,
}

impl Tag {
    /// Parses the inside of `<...>`.
    fn parse(inside: &str) -> Tag {
        let inside = inside.trim();
        let (closing, inside) = match inside.strip_prefix('/') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, inside),
        };
        let inside = inside.trim_end_matches('/');
        let name_end = inside
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inside.len());
        let name = inside[..name_end].to_ascii_lowercase();
        Tag {
            name,
            closing,
            attributes: parse_attributes(&inside[name_end..]),
        }
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn parse_attributes(mut text: &str) -> Vec<(String, String)> {
    let mut attributes = Vec::new();
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return attributes;
        }
        let name_end = text
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(text.len());
        let name = text[..name_end].to_ascii_lowercase();
        text = text[name_end..].trim_start();
        let Some(after_equals) = text.strip_prefix('=') else {
            attributes.push((name, String::new()));
            continue;
        };
        let after_equals = after_equals.trim_start();
        let (value, rest) = match after_equals.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                let body = &after_equals[1..];
                match body.find(quote) {
                    Some(end) => (&body[..end], &body[end + 1..]),
                    None => (body, ""),
                }
            }
            _ => {
                let end = after_equals
                    .find(char::is_whitespace)
                    .unwrap_or(after_equals.len());
                (&after_equals[..end], &after_equals[end..])
            }
        };
        attributes.push((name, decode_entities(value)));
        text = rest;
    }
}

/// Decodes character references: the named ones Mastodon's sanitizer writes, and every
/// numeric one. Unknown names are left as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let reference = rest[1..]
            .find(';')
            .filter(|&end| end > 0 && end <= 32)
            .map(|end| &rest[1..end + 1]);
        match reference.and_then(decode_reference) {
            Some(character) => {
                decoded.push(character);
                rest = &rest[reference.map_or(0, str::len) + 2..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

fn decode_reference(reference: &str) -> Option<char> {
    if let Some(number) = reference.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse::<u32>().ok()?,
        };
        return char::from_u32(code).filter(|&c| c != '\0');
    }
    Some(match reference {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "euro" => '€',
        "pound" => '£',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(html: &str, expected: &str) {
        let mentions: HashMap<String, String> = [
            (
                "https://mastodon.social/@trwnh".to_string(),
                "trwnh@mastodon.social".to_string(),
            ),
            ("https://acme.example/@acme".to_string(), "acme".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(to_text(html, &mentions), expected, "{html}");
    }

    #[test]
    fn status_html_becomes_clean_text() {
        // The docs' own sample mention.
        check(
            r#"<p><span class="h-card"><a href="https://mastodon.social/@trwnh" class="u-url mention">@<span>trwnh</span></a></span> sup!</p>"#,
            "@trwnh@mastodon.social sup!",
        );
        // A mention the status's list doesn't know keeps its visible text.
        check(
            r#"<p><span class="h-card" translate="no"><a href="https://other.example/@kim" class="u-url mention">@<span>kim</span></a></span> hi</p>"#,
            "@kim hi",
        );
        // A local account's mention.
        check(
            r#"<p><a href="https://acme.example/@acme" class="u-url mention">@<span>acme</span></a> refund?</p>"#,
            "@acme refund?",
        );
        // Entities and paragraphs (the Status entity's sample).
        check(
            r#"<p>&quot;I lost my inheritance with one wrong digit on my sort code&quot;</p><p><a href="https://www.theguardian.com/money/2019/dec/07/i-lost" rel="nofollow noopener noreferrer" target="_blank"><span class="invisible">https://www.</span><span class="ellipsis">theguardian.com/money/2019/dec</span><span class="invisible">/07/i-lost</span></a></p>"#,
            "\"I lost my inheritance with one wrong digit on my sort code\"\n\nhttps://www.theguardian.com/money/2019/dec/07/i-lost",
        );
        check(
            "<p>line one<br>line two<br />line three</p>",
            "line one\nline two\nline three",
        );
        check("<p>a</p><p>b</p>\n<p>c</p>", "a\n\nb\n\nc");
        check(
            r##"<p>down again <a href="https://m.example/tags/outage" class="mention hashtag" rel="tag">#<span>outage</span></a></p>"##,
            "down again #outage",
        );
        check(
            "<p>Tom &amp; Jerry &lt;3 &#39;quoted&#39; &#x1F600; &eacute;</p>",
            "Tom & Jerry <3 'quoted' 😀 &eacute;",
        );
        check("<p>  spaced \n  out  </p>", "spaced out");
        check("<p>a < b and c > d</p>", "a < b and c > d");
        check(
            "<ul><li>one</li><li>two</li></ul><p>after</p>",
            "- one\n- two\n\nafter",
        );
        check(
            "<pre><code>keep   this\n  indent</code></pre>",
            "keep   this\n  indent",
        );
        check("plain text, no tags", "plain text, no tags");
        check("<p>unclosed <a href='x'>link", "unclosed link");
        check("<p>broken <span class=\"x</p>", "broken <span class=\"x");
        check("<script>alert(1)</script><p>safe</p>", "safe");
        check("", "");
        check("<p>AT&T &amp co</p>", "AT&T &amp co");
    }
}
