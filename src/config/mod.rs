//! Configuration: the one TOML file an admin owns, read into a typed [`Settings`] tree.
//!
//! This module owns reading the file, `${VAR}` interpolation from the environment, defaults,
//! resolving relative paths, and every check that can be made before anything connects. It
//! reports every problem at once, each under the key that holds it (`sources[1].base_url`),
//! so an admin fixes the whole file in one round. It must not open connections or touch the
//! store: the application builds clients from the settings it returns.
//!
//! Layout:
//! - `settings.rs`: the typed tree and its `DEFAULT_*` values;
//! - `secret.rs`: [`Secret`], which keeps credentials out of logs;
//! - `env.rs`: `${VAR}` interpolation on the raw TOML tree;
//! - `read.rs`: piecewise deserialization that collects every problem;
//! - `validate.rs`: cross-field checks.

mod env;
mod read;
mod secret;
mod settings;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Component, Path, PathBuf};

pub use secret::Secret;
pub use settings::*;

use read::{join_index, Report};

/// The embedded default configuration: the repository's `config.example.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../config.example.toml");

/// Reads the configuration file at `path`, taking `${VAR}` values from the process environment.
///
/// Relative paths inside the file are resolved against the file's own directory.
pub fn load(path: &Path) -> Result<Settings, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigErrors::single(
            path.display().to_string(),
            format!("cannot read the configuration file: {error}"),
        )
    })?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base_dir = absolute.parent().unwrap_or(Path::new("."));
    parse(&text, &|name| std::env::var(name).ok(), base_dir)
}

/// Reads configuration `text`, taking `${VAR}` values from `env` and resolving relative paths
/// against `base_dir`.
///
/// On failure the error lists every problem found, not just the first.
pub fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    base_dir: &Path,
) -> Result<Settings, ConfigErrors> {
    let mut report = Report::default();
    let table = match toml::from_str::<toml::Table>(text) {
        Ok(table) => table,
        Err(error) => return Err(ConfigErrors::from_syntax_error(text, &error)),
    };
    let parts = read_parts(table, env, &mut report);
    validate::check(&parts, &mut report);
    let mut problems = report.finish();
    // Sections are read one after the other and cross-field checks run last; sorting by
    // section and element puts each problem back near its place in the file. The sort is
    // stable, so problems within one element keep the order they were found in.
    problems.sort_by_key(|problem| file_order(&problem.key));
    if !problems.is_empty() {
        return Err(ConfigErrors { problems });
    }
    match parts.into_settings() {
        Some(mut settings) => {
            resolve_paths(&mut settings, base_dir);
            Ok(settings)
        }
        // Every missing part was reported above, so this is unreachable in practice; it still
        // returns an error rather than panicking.
        None => Err(ConfigErrors::single("", "incomplete configuration")),
    }
}

/// Parses [`DEFAULT_CONFIG`] with the process environment, relative to the current directory.
pub fn embedded() -> Result<Settings, ConfigErrors> {
    let base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    parse(DEFAULT_CONFIG, &|name| std::env::var(name).ok(), &base_dir)
}

/// Everything wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", display_lines(.problems))]
pub struct ConfigErrors {
    /// The problems, in file section order; never empty.
    pub problems: Vec<Problem>,
}

impl ConfigErrors {
    fn single(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            problems: vec![Problem {
                key: key.into(),
                message: message.into(),
            }],
        }
    }

    fn from_syntax_error(text: &str, error: &toml::de::Error) -> Self {
        let key = match error.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                format!("line {line}, column {column}")
            }
            None => "toml".to_owned(),
        };
        let message = match error.message().trim() {
            // The toml crate gives no message for a value cut off by the end of the file.
            "" => "unexpected end of file".to_owned(),
            message => message.replace('\n', "; "),
        };
        Self::single(key, format!("invalid TOML: {message}"))
    }
}

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where it is: a key path such as `sources[1].base_url` or `console.listen`, the file path
    /// when the file cannot be read, or `line L, column C` for a TOML syntax error.
    pub key: String,
    /// What is wrong, lowercase and without a trailing period.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            formatter.write_str(&self.message)
        } else {
            write!(formatter, "{}: {}", self.key, self.message)
        }
    }
}

fn display_lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level keys, in the order their problems are reported.
const SECTIONS: &[&str] = &[
    "store",
    "http",
    "brand",
    "sources",
    "slack",
    "discord",
    "console",
    "escalations",
    "triage",
    "replies",
    "runtime",
    "sla",
    "fairness",
    "permissions",
    "customers",
    "digest",
];

/// The sections that could be read, before the cross-field checks.
///
/// A section that was present but broken is `None` and its problems are already reported;
/// the `*_present` flags still say it was there, so checks like "is any chat configured" do not
/// add a misleading second problem.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    pub(crate) store: Option<StoreSettings>,
    pub(crate) http: Option<HttpSettings>,
    pub(crate) brand: Option<BrandSettings>,
    pub(crate) sources_present: bool,
    /// Whether `sources` was present but not an array of tables, which is already reported.
    pub(crate) sources_malformed: bool,
    /// One entry per `[[sources]]` element, in file order.
    pub(crate) sources: Vec<Option<SourceSettings>>,
    /// The `name` of each `[[sources]]` element when it is a string, even if the element is
    /// broken, so a duplicate is still found.
    pub(crate) source_names: Vec<Option<String>>,
    pub(crate) slack_present: bool,
    pub(crate) slack: Option<SlackSettings>,
    pub(crate) discord_present: bool,
    pub(crate) discord: Option<DiscordSettings>,
    pub(crate) console_present: bool,
    pub(crate) console: Option<ConsoleSettings>,
    /// One entry per `[[escalations]]` element, in file order.
    pub(crate) escalations: Vec<Option<EscalationTarget>>,
    /// The `id` of each `[[escalations]]` element when it is a string, even if it is broken.
    pub(crate) escalation_ids: Vec<Option<String>>,
    pub(crate) triage: Option<TriageSettings>,
    pub(crate) replies: Option<ReplySettings>,
    pub(crate) runtime: Option<RuntimeSettings>,
    pub(crate) sla: Option<SlaSettings>,
    pub(crate) fairness: Option<FairnessSettings>,
    pub(crate) permissions_present: bool,
    pub(crate) permissions: Option<PermissionsSettings>,
    pub(crate) customers: Option<CustomerSettings>,
    pub(crate) digest: Option<DigestSettings>,
}

impl Parts {
    fn into_settings(self) -> Option<Settings> {
        Some(Settings {
            store: self.store?,
            http: self.http?,
            brand: self.brand?,
            sources: if self.sources_malformed {
                return None;
            } else {
                self.sources.into_iter().collect::<Option<Vec<_>>>()?
            },
            slack: if self.slack_present {
                Some(self.slack?)
            } else {
                None
            },
            discord: if self.discord_present {
                Some(self.discord?)
            } else {
                None
            },
            console: if self.console_present {
                Some(self.console?)
            } else {
                None
            },
            escalations: self.escalations.into_iter().collect::<Option<Vec<_>>>()?,
            triage: self.triage?,
            replies: self.replies?,
            runtime: self.runtime?,
            sla: self.sla?,
            fairness: self.fairness?,
            permissions: if self.permissions_present {
                Some(self.permissions?)
            } else {
                None
            },
            customers: self.customers?,
            digest: self.digest?,
        })
    }
}

fn read_parts(
    mut table: toml::Table,
    env: &dyn Fn(&str) -> Option<String>,
    report: &mut Report,
) -> Parts {
    for key in table.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            report.problem(read::join_key("", key), "unknown key");
        }
    }
    let mut take = |name: &str, report: &mut Report| {
        table.remove(name).map(|mut value| {
            env::interpolate(&mut value, name, env, report);
            value
        })
    };

    let mut parts = Parts {
        store: section_or_default(take("store", report), "store", report),
        http: section_or_default(take("http", report), "http", report),
        ..Parts::default()
    };
    match take("brand", report) {
        Some(value) => parts.brand = section(value, "brand", report),
        None => report.problem("brand", "missing"),
    }
    if let Some(value) = take("sources", report) {
        parts.sources_present = true;
        parts.sources_malformed = !value.is_array();
        let elements = array_of_tables(value, "sources", report);
        parts.source_names = elements
            .iter()
            .map(|(_, element)| string_field(element.as_ref(), "name"))
            .collect();
        parts.sources = elements
            .into_iter()
            .map(|(key, element)| source(element, &key, report))
            .collect();
    }
    if let Some(value) = take("slack", report) {
        parts.slack_present = true;
        parts.slack = section(value, "slack", report);
    }
    if let Some(value) = take("discord", report) {
        parts.discord_present = true;
        parts.discord = section(value, "discord", report);
    }
    if let Some(value) = take("console", report) {
        parts.console_present = true;
        parts.console = section(value, "console", report);
    }
    if let Some(value) = take("escalations", report) {
        let elements = array_of_tables(value, "escalations", report);
        parts.escalation_ids = elements
            .iter()
            .map(|(_, element)| string_field(element.as_ref(), "id"))
            .collect();
        parts.escalations = elements
            .into_iter()
            .map(|(key, element)| element.and_then(|table| read::typed(table, &key, report)))
            .collect();
    }
    parts.triage = section_or_default(take("triage", report), "triage", report);
    parts.replies = section_or_default(take("replies", report), "replies", report);
    parts.runtime = section_or_default(take("runtime", report), "runtime", report);
    parts.sla = section_or_default(take("sla", report), "sla", report);
    parts.fairness = section_or_default(take("fairness", report), "fairness", report);
    if let Some(value) = take("permissions", report) {
        parts.permissions_present = true;
        parts.permissions = section(value, "permissions", report);
    }
    parts.customers = section_or_default(take("customers", report), "customers", report);
    parts.digest = section_or_default(take("digest", report), "digest", report);
    parts
}

/// Returns `table.key` when it is a string.
fn string_field(table: Option<&toml::Value>, key: &str) -> Option<String> {
    table?.get(key)?.as_str().map(str::to_owned)
}

/// Reads a `[section]` that must be a table.
fn section<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    key: &str,
    report: &mut Report,
) -> Option<T> {
    if !value.is_table() {
        report.problem(key, format!("expected a table ([{key}])"));
        return None;
    }
    read::typed(value, key, report)
}

/// Reads an optional `[section]`, using its defaults when it is absent.
fn section_or_default<T: serde::de::DeserializeOwned + Default>(
    value: Option<toml::Value>,
    key: &str,
    report: &mut Report,
) -> Option<T> {
    match value {
        Some(value) => section(value, key, report),
        None => Some(T::default()),
    }
}

/// Splits a `[[key]]` array into its elements with their key paths; a non-table element is
/// reported and kept as `None` so the indices of the others stay right.
fn array_of_tables(
    value: toml::Value,
    key: &str,
    report: &mut Report,
) -> Vec<(String, Option<toml::Value>)> {
    let toml::Value::Array(items) = value else {
        report.problem(key, format!("expected an array of tables ([[{key}]])"));
        return Vec::new();
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let element_key = join_index(key, index);
            if item.is_table() {
                (element_key, Some(item))
            } else {
                report.problem(&element_key, "expected a table");
                (element_key, None)
            }
        })
        .collect()
}

/// Reads one `[[sources]]` table by dispatching on its `type` key by hand.
///
/// Serde's internally tagged enums buffer the table before picking a variant, which loses the
/// key path of any later error; reading the variant struct directly keeps it.
fn source(value: Option<toml::Value>, key: &str, report: &mut Report) -> Option<SourceSettings> {
    let toml::Value::Table(mut table) = value? else {
        return None;
    };
    let type_key = read::join_key(key, "type");
    let network = match table.remove("type") {
        None => {
            report.problem(&type_key, "missing");
            return None;
        }
        Some(toml::Value::String(network)) => network,
        Some(other) => {
            report.problem(
                &type_key,
                format!("expected a string, found {}", other.type_str()),
            );
            return None;
        }
    };
    let rest = toml::Value::Table(table);
    match network.as_str() {
        "replay" => read::typed(rest, key, report).map(SourceSettings::Replay),
        "mastodon" => read::typed(rest, key, report).map(SourceSettings::Mastodon),
        "bluesky" => read::typed(rest, key, report).map(SourceSettings::Bluesky),
        "x" => read::typed(rest, key, report).map(SourceSettings::X),
        unknown => {
            report.problem(
                &type_key,
                format!(
                    "unknown source type \"{unknown}\", expected one of {}",
                    SourceSettings::TYPES.join(", ")
                ),
            );
            None
        }
    }
}

/// Ranks a key path by its top-level section (unknown keys first) and its array index.
fn file_order(key: &str) -> (usize, usize) {
    let section_end = key.find(['.', '[']).unwrap_or(key.len());
    let section_rank = SECTIONS
        .iter()
        .position(|section| *section == &key[..section_end])
        .map_or(0, |position| position + 1);
    let index = key[section_end..]
        .strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|index| index.parse().ok())
        .unwrap_or(0);
    (section_rank, index)
}

fn resolve_paths(settings: &mut Settings, base_dir: &Path) {
    settings.store.path = resolve(base_dir, &settings.store.path);
    for source in &mut settings.sources {
        if let SourceSettings::Replay(replay) = source {
            replay.path = resolve(base_dir, &replay.path);
            if let Some(sent_path) = &replay.sent_path {
                replay.sent_path = Some(resolve(base_dir, sent_path));
            }
        }
    }
}

/// Joins a relative `path` onto `base_dir`, dropping `.` components so logs stay readable.
fn resolve(base_dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let mut resolved = base_dir.to_path_buf();
    resolved.extend(
        path.components()
            .filter(|component| *component != Component::CurDir),
    );
    resolved
}

/// Returns the one-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
