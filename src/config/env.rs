//! `${VAR}` interpolation on the raw TOML tree, before any typed deserialization.
//!
//! Working on `toml::Value` means every string, however deeply nested, is reached with its key
//! path, so a missing variable is reported against the key that needs it. This module never
//! reads the process environment itself: the caller passes a lookup function.

use super::read::{join_index, join_key, Report};

/// Replaces every `${VAR}` in every string below `value`, reporting problems under `key`.
pub(crate) fn interpolate(
    value: &mut toml::Value,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
    report: &mut Report,
) {
    match value {
        toml::Value::String(text) => {
            let mut missing = Vec::new();
            let substituted = substitute(text, env, &mut missing);
            for message in missing {
                report.env_problem(key, message);
            }
            *text = substituted;
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate(item, &join_index(key, index), env, report);
            }
        }
        toml::Value::Table(table) => {
            for (name, item) in table.iter_mut() {
                interpolate(item, &join_key(key, name), env, report);
            }
        }
        toml::Value::Integer(_)
        | toml::Value::Float(_)
        | toml::Value::Boolean(_)
        | toml::Value::Datetime(_) => {}
    }
}

/// Substitutes the variables of one string, pushing one message per problem into `problems`.
///
/// A variable that cannot be substituted becomes the empty string, so the rest of the string is
/// still checked; the caller suppresses follow-up problems on the same key.
pub(crate) fn substitute(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> String {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        output.push_str(&rest[..dollar]);
        let after_dollar = &rest[dollar..];
        if let Some(escaped) = after_dollar.strip_prefix("$${") {
            output.push_str("${");
            rest = escaped;
        } else if let Some(reference) = after_dollar.strip_prefix("${") {
            let Some(end) = reference.find('}') else {
                problems
                    .push("unterminated \"${\" (write \"$${\" for a literal \"${\")".to_owned());
                return output;
            };
            let name = &reference[..end];
            if !is_variable_name(name) {
                problems.push(format!("invalid environment variable name \"{name}\""));
            } else {
                match env(name) {
                    Some(value) => output.push_str(&value),
                    None => problems.push(format!("environment variable {name} is not set")),
                }
            }
            rest = &reference[end + 1..];
        } else {
            output.push('$');
            rest = &after_dollar[1..];
        }
    }
    output.push_str(rest);
    output
}

fn is_variable_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

#[cfg(test)]
mod tests {
    use super::substitute;

    fn check(input: &str, expected_output: &str, expected_problems: &[&str]) {
        let env = |name: &str| match name {
            "TOKEN" => Some("abc".to_owned()),
            "EMPTY" => Some(String::new()),
            "HOST" => Some("example.com".to_owned()),
            _ => None,
        };
        let mut problems = Vec::new();
        let output = substitute(input, &env, &mut problems);
        assert_eq!(output, expected_output, "output for {input:?}");
        assert_eq!(problems, expected_problems, "problems for {input:?}");
    }

    #[test]
    fn substitution_table() {
        check("plain", "plain", &[]);
        check("", "", &[]);
        check("${TOKEN}", "abc", &[]);
        check("Bearer ${TOKEN}!", "Bearer abc!", &[]);
        check("https://${HOST}/${TOKEN}", "https://example.com/abc", &[]);
        check("${EMPTY}", "", &[]);
        check("$${TOKEN}", "${TOKEN}", &[]);
        check("a$${b}$${c}", "a${b}${c}", &[]);
        check("cost: $5 $", "cost: $5 $", &[]);
        check("$$", "$$", &[]);
        check("$$${TOKEN}", "$${TOKEN}", &[]);
        check("{TOKEN}", "{TOKEN}", &[]);
        check("${NOPE}", "", &["environment variable NOPE is not set"]);
        check(
            "${NOPE}-${GONE}",
            "-",
            &[
                "environment variable NOPE is not set",
                "environment variable GONE is not set",
            ],
        );
        check("${}", "", &["invalid environment variable name \"\""]);
        check("${1X}", "", &["invalid environment variable name \"1X\""]);
        check("${A B}", "", &["invalid environment variable name \"A B\""]);
        check(
            "x${TOKEN",
            "x",
            &["unterminated \"${\" (write \"$${\" for a literal \"${\")"],
        );
        check("ünï${TOKEN}çødé", "ünïabcçødé", &[]);
    }
}
