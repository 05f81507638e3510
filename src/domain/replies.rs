//! Saved replies and the rules about reply texts: placeholder expansion and the
//! same-text comparison behind the repeat warning. Pure, table-tested below.
//!
//! A saved reply (`[[replies.saved]]`) is a template with placeholders: `{handle}` becomes the
//! customer's handle as the network shows it (`@ana.bsky.social`), `{agent}` the replying
//! agent's display name. Anything else in braces is left as it is (config validation refuses
//! unknown placeholders in saved replies, so only a typed text can hold one).

use serde::{Deserialize, Serialize};

use super::case::{Agent, Case};

/// The placeholders a saved reply may use, without their braces.
pub const PLACEHOLDERS: [&str; 2] = ["handle", "agent"];

/// A saved reply from config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedReply {
    /// What the pickers show; unique.
    pub name: String,
    /// The template.
    pub text: String,
}

/// What the placeholders are filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The customer's handle with its `@`.
    pub handle: String,
    /// The agent's display name.
    pub agent: String,
}

impl Fill {
    /// The fill for `agent` answering `case`.
    pub fn new(case: &Case, agent: &Agent) -> Fill {
        Fill {
            handle: format!("@{}", case.customer.handle.trim_start_matches('@')),
            agent: agent.name.clone(),
        }
    }
}

/// `template` with every known placeholder replaced; unknown ones stay as written.
pub fn expand(template: &str, fill: &Fill) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let replaced = after.find('}').and_then(|close| {
            let value = match &after[..close] {
                "handle" => &fill.handle,
                "agent" => &fill.agent,
                _ => return None,
            };
            Some((value, close))
        });
        match replaced {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders in `template` that are not known, in order, once each.
pub fn unknown_placeholders(template: &str) -> Vec<String> {
    let mut unknown: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        let looks_like_one = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        if looks_like_one && !PLACEHOLDERS.contains(&name) && !unknown.iter().any(|u| u == name) {
            unknown.push(name.to_string());
        }
        rest = &after[close + 1..];
    }
    unknown
}

/// The saved reply `name` filled in for `agent` answering `case`; `None` if there is none.
pub fn saved_reply_text(
    saved: &[SavedReply],
    name: &str,
    case: &Case,
    agent: &Agent,
) -> Option<String> {
    let found = saved.iter().find(|reply| reply.name == name)?;
    Some(expand(&found.text, &Fill::new(case, agent)))
}

/// A reply text as the repeat warning compares it: lowercased, without @mentions (the
/// customer's handle differs each time) and `^XY` signatures (each agent's differs), with
/// whitespace collapsed and trailing punctuation of each word ignored.
pub fn repeat_key(text: &str) -> String {
    text.split_whitespace()
        .filter(|word| !word.starts_with('@') && !word.starts_with('^'))
        .map(|word| {
            word.trim_end_matches(|c: char| c.is_ascii_punctuation())
                .to_lowercase()
        })
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill() -> Fill {
        Fill {
            handle: "@ana.bsky.social".to_string(),
            agent: "Bo".to_string(),
        }
    }

    #[test]
    fn templates_expand() {
        let check = |template: &str, expected: &str| {
            assert_eq!(expand(template, &fill()), expected, "{template:?}");
        };
        check("", "");
        check("no placeholders", "no placeholders");
        check(
            "{handle} sorry! {agent} here.",
            "@ana.bsky.social sorry! Bo here.",
        );
        check("{handle}{handle}", "@ana.bsky.social@ana.bsky.social");
        check("{unknown} stays", "{unknown} stays");
        check("a { brace and {agent}", "a { brace and Bo");
        check("unclosed {agent", "unclosed {agent");
        check("{{agent}}", "{Bo}");
        check("émoji 🙂 {agent}", "émoji 🙂 Bo");
        check("{Agent} is case-sensitive", "{Agent} is case-sensitive");
    }

    #[test]
    fn unknown_placeholders_are_listed_once() {
        let check = |template: &str, expected: &[&str]| {
            assert_eq!(unknown_placeholders(template), expected, "{template:?}");
        };
        check("{handle} {agent}", &[]);
        check("{name} and {name} and {order_id}", &["name", "order_id"]);
        check("a JSON-ish { \"a\": 1 } is not one", &[]);
        check("{}", &[]);
        check("{Handle}", &["Handle"]);
    }

    #[test]
    fn repeat_keys_ignore_handles_signatures_case_and_punctuation() {
        let check = |a: &str, b: &str, same: bool| {
            assert_eq!(repeat_key(a) == repeat_key(b), same, "{a:?} vs {b:?}");
        };
        check(
            "@ana.bsky.social Sorry, we are on it! ^AB",
            "@jo sorry we are on it ^CD",
            true,
        );
        check("Sorry,  we are\non it.", "sorry we are on it", true);
        check("sorry we are on it", "sorry we are not on it", false);
        check("@ana", "@jo", true);
    }
}
