//! Piecewise typed deserialization that keeps going after the first error.
//!
//! Serde stops at the first error inside one value, so [`typed`] retries: after each error it
//! records a problem under the full key path, removes the offending key from the raw tree and
//! deserializes again. The caller runs it once per section and once per array element, so
//! mistakes in different places never hide each other.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::Problem;

/// Retries allowed for one value; each retry removes one key, so this is far above real needs.
const MAX_ATTEMPTS: usize = 64;

/// Collects problems while a file is read.
#[derive(Debug, Default)]
pub(crate) struct Report {
    problems: Vec<(Problem, Origin)>,
}

/// Where a problem came from, which decides whether it may hide others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A `${VAR}` that could not be substituted.
    Environment,
    /// Anything found after interpolation.
    Content,
}

impl Report {
    /// Records a problem with `key`.
    pub(crate) fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.push(key.into(), message.into(), Origin::Content);
    }

    /// Records a `${VAR}` problem with `key`.
    pub(crate) fn env_problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.push(key.into(), message.into(), Origin::Environment);
    }

    fn push(&mut self, key: String, message: String, origin: Origin) {
        let problem = Problem { key, message };
        if !self.problems.iter().any(|(known, _)| *known == problem) {
            self.problems.push((problem, origin));
        }
    }

    /// Returns the problems in the order found.
    ///
    /// A key whose `${VAR}` could not be substituted holds a mangled value, so any other problem
    /// on that same key is a consequence, not news, and is left out.
    pub(crate) fn finish(self) -> Vec<Problem> {
        let tainted: BTreeSet<String> = self
            .problems
            .iter()
            .filter(|(_, origin)| *origin == Origin::Environment)
            .map(|(problem, _)| problem.key.clone())
            .collect();
        self.problems
            .into_iter()
            .filter(|(problem, origin)| {
                *origin == Origin::Environment || !tainted.contains(&problem.key)
            })
            .map(|(problem, _)| problem)
            .collect()
    }
}

/// Deserializes `value` into `T`, reporting every problem found under `prefix`.
///
/// Returns `None` when anything was wrong, so callers never see a half-valid value.
pub(crate) fn typed<T: DeserializeOwned>(
    mut value: toml::Value,
    prefix: &str,
    report: &mut Report,
) -> Option<T> {
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_ATTEMPTS {
        let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) if reported.is_empty() => return Some(parsed),
            Ok(_) => return None,
            Err(error) => error,
        };
        let segments: Vec<Segment> = error.path().iter().cloned().collect();
        let message = error.inner().message().to_owned();
        let at = segments_key(prefix, &segments);

        if let Some(field) = quoted_after(&message, "missing field `") {
            let key = join_key(&at, field);
            if !reported.contains(&key) {
                report.problem(&key, "missing");
            }
            reported.insert(key);
            // Serde reports a missing field only after every present key of that table was read,
            // so dropping the whole table lets the retry look at the rest of the tree.
            reported.insert(at);
            if !remove_nearest_key(&mut value, &segments) {
                return None;
            }
            continue;
        }

        let text = if quoted_after(&message, "unknown field `").is_some() {
            "unknown key".to_owned()
        } else {
            plain_message(&message)
        };
        report.problem(&at, text);
        reported.insert(at);
        if !remove_nearest_key(&mut value, &segments) {
            return None;
        }
    }
    None
}

/// Appends a table key to a key path, quoting it when it is not a bare TOML key.
pub(crate) fn join_key(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key.chars().all(|character| {
            character.is_ascii_alphanumeric() || character == '_' || character == '-'
        });
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// Appends an array index to a key path.
pub(crate) fn join_index(prefix: &str, index: usize) -> String {
    format!("{prefix}[{index}]")
}

fn segments_key(prefix: &str, segments: &[Segment]) -> String {
    segments
        .iter()
        .fold(prefix.to_owned(), |key, segment| match segment {
            Segment::Seq { index } => join_index(&key, *index),
            Segment::Map { key: name } => join_key(&key, name),
            Segment::Enum { variant } => join_key(&key, variant),
            Segment::Unknown => join_key(&key, "?"),
        })
}

/// Removes the deepest table key on the path, so the retry no longer trips over it.
///
/// An array element is never removed on its own, because that would shift the indices of the
/// elements after it; the whole array goes instead.
fn remove_nearest_key(value: &mut toml::Value, segments: &[Segment]) -> bool {
    let Some(last_key) = segments
        .iter()
        .rposition(|segment| matches!(segment, Segment::Map { .. }))
    else {
        return false;
    };
    let mut parent = value;
    for segment in &segments[..last_key] {
        let child = match (segment, parent) {
            (Segment::Map { key }, toml::Value::Table(table)) => table.get_mut(key),
            (Segment::Seq { index }, toml::Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match child {
            Some(child) => parent = child,
            None => return false,
        }
    }
    match (&segments[last_key], parent) {
        (Segment::Map { key }, toml::Value::Table(table)) => table.remove(key).is_some(),
        _ => false,
    }
}

/// Returns the text between `start` and the next backtick, as in serde's "missing field `x`".
fn quoted_after<'message>(message: &'message str, start: &str) -> Option<&'message str> {
    let rest = message.strip_prefix(start)?;
    rest.split('`').next()
}

/// Rewrites serde's Rust-flavoured wording into what an admin editing TOML understands.
fn plain_message(message: &str) -> String {
    let message = message.replace('\n', "; ");
    match message.find("expected struct ") {
        Some(position) => format!("{}expected a table", &message[..position]),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::{join_index, join_key};

    #[test]
    fn key_paths_quote_keys_that_are_not_bare() {
        assert_eq!(join_key("", "brand"), "brand");
        assert_eq!(join_key("brand", "name"), "brand.name");
        assert_eq!(join_index("sources", 2), "sources[2]");
        assert_eq!(
            join_key("replies.signatures", "Ann Bee"),
            "replies.signatures.\"Ann Bee\""
        );
        assert_eq!(join_key("a", ""), "a.\"\"");
    }
}
