//! The `mentiondesk` binary: parses the command line, sets up logging, calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use mentiondesk::app::{unavailable_adapters, Application};
use mentiondesk::chat::slack::SlackApi;
use mentiondesk::chat::ChatError;
use mentiondesk::config::{self, Settings};
use mentiondesk::store::{Store, StoreError};
use mentiondesk::telemetry::{self, LogFormat};

/// mentiondesk watches public mentions of your brand, turns complaints into cards in your
/// team's chat (Slack, Discord or the local console) and threads every action, reply and
/// follow-up back under the card.
#[derive(Parser)]
#[command(name = "mentiondesk", version)]
struct Cli {
    /// How log lines look (level from RUST_LOG, e.g. RUST_LOG=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot until SIGINT or SIGTERM.
    ///
    /// Without --config it runs the embedded demo config: the replay source on
    /// examples/mentions.jsonl and the local console at http://127.0.0.1:8687/.
    Run {
        /// The TOML config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Check a config file and print every problem with its key; exit 1 if there is any.
    Check {
        /// The TOML config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Train triage's learned model from the team's labels in the store and/or a labelled
    /// CSV, and save it in the store (stop the bot first: the store has one user at a time).
    Train {
        /// The TOML config file (its [store].path); without it, the embedded demo config.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// A labelled CSV to train on as well: `id,text,label,domain` without header, or a
        /// headered CSV with `text` and `label` columns.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Cross-validate the learned model on a labelled CSV and score the built-in default.
    Eval {
        /// The labelled CSV (same formats as `train --data`).
        #[arg(long)]
        data: PathBuf,
        /// Number of stratified folds.
        #[arg(long, default_value_t = 10)]
        folds: usize,
        /// Only the rows of the brand domains (drops `random_tweet` and `random_reply`).
        #[arg(long)]
        domain_only: bool,
        /// Seed of the folds and of the training shuffles (check a change on two seeds).
        #[arg(long, default_value_t = mentiondesk::pipeline::triage::TrainOptions::default().seed)]
        seed: u64,
    },
    /// List every public reply and escalation: who posted what where, with network ids and links.
    ///
    /// Reads the store, or, while the bot runs (and holds the store's lock), asks it over
    /// [http].listen (GET /audit, loopback only).
    Audit {
        /// The TOML config file (default: the embedded demo config).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// How far back: a duration (7d, 12h), an RFC 3339 time or a date (2026-11-01).
        #[arg(long, default_value = "7d")]
        since: String,
        /// Output: an aligned table, or a JSON array of records.
        #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
        format: AuditFormat,
    },
    /// Report on the cases opened in a period: volume by network and label, time to claim and
    /// to first public response, SLA attainment, resolution and escalation rates, per agent,
    /// per escalation target, and response time by the customer's follower count.
    ///
    /// Reads the store, or, while the bot runs (and holds the store's lock), asks it over
    /// [http].listen (GET /report, loopback only).
    Report {
        /// The TOML config file (default: the embedded demo config).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// How far back: a duration (7d, 12h), an RFC 3339 time or a date (2026-11-01).
        #[arg(long, default_value = "7d")]
        since: String,
        /// Output: aligned tables, one JSON document, or CSV (section,key,metric,value).
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Make the weekly digest of the last week whose [digest] slot has come (figures on stdout,
    /// the chart as a PNG file), without posting it. Reads the store: the bot must be stopped.
    Digest {
        /// The TOML config file (default: the embedded demo config).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Where to write the chart.
        #[arg(long, default_value = "digest.png")]
        out: PathBuf,
    },
    /// Write the whole store to stdout as JSON lines (tree, key, value); the bot must be stopped.
    Export {
        /// The TOML config file (default: the embedded demo config).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Restore a dump from stdin into the config's store, which must be new or empty.
    Import {
        /// The TOML config file (default: the embedded demo config).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuditFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    Table,
    Json,
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Run { config } => run(config),
        Command::Train { config, data } => train(config, data),
        Command::Eval {
            data,
            folds,
            domain_only,
            seed,
        } => eval(&data, folds, domain_only, seed),
        Command::Audit {
            config,
            since,
            format,
        } => audit(config, &since, format),
        Command::Report {
            config,
            since,
            format,
        } => report(config, &since, format),
        Command::Digest { config, out } => digest(config, &out),
        Command::Export { config } => export(config),
        Command::Import { config } => import(config),
    }
}

fn load_settings(path: &Option<PathBuf>) -> Option<Settings> {
    let loaded = match path {
        Some(path) => config::load(path),
        None => config::embedded(),
    };
    match loaded {
        Ok(settings) => Some(settings),
        Err(errors) => {
            let name = path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "embedded config".to_string());
            eprintln!("{name}: the config has problems:");
            for problem in &errors.problems {
                eprintln!("  {}: {}", problem.key, problem.message);
            }
            None
        }
    }
}

/// Opens the config's store (`StoreError::Locked` while a running bot holds it).
fn open_existing_store(settings: &Settings) -> Result<Store, StoreError> {
    Store::open(&settings.store.path.join("sled"))
}

/// Reads what a command needs from the store, or, when a running mentiondesk holds the store's
/// lock, asks that bot for it over `http.listen` (`remote`).
fn read_store_or_ask<T, F>(
    settings: &Settings,
    local: impl FnOnce(&Store) -> anyhow::Result<T>,
    remote: impl FnOnce() -> F,
) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    match open_existing_store(settings) {
        Ok(store) => local(&store),
        Err(StoreError::Locked { path }) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| anyhow::anyhow!("cannot start the async runtime: {error}"))?;
            runtime.block_on(remote()).map_err(|error| {
                anyhow::anyhow!(
                    "the store at {path} is in use by a running mentiondesk, and asking it over http.listen failed: {error:#}"
                )
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// The settings and the `--since` instant of a command that reads what the store recorded
/// (`audit`, `report`); `None` after telling the user what is wrong.
fn recorded_since(
    path: &Option<PathBuf>,
    since_text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<(Settings, chrono::DateTime<chrono::Utc>)> {
    let settings = load_settings(path)?;
    let since = match mentiondesk::audit::parse_since(since_text, now) {
        Ok(since) => since,
        Err(message) => {
            eprintln!("{message}");
            return None;
        }
    };
    if !settings.store.path.exists() {
        eprintln!(
            "no store at {} (store.path): nothing was recorded yet",
            settings.store.path.display()
        );
        return None;
    }
    Some((settings, since))
}

/// Prints `value` as pretty JSON.
fn print_json<T: serde::Serialize>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn audit(path: Option<PathBuf>, since_text: &str, format: AuditFormat) -> ExitCode {
    let Some((settings, since)) = recorded_since(&path, since_text, chrono::Utc::now()) else {
        return ExitCode::FAILURE;
    };
    let records = read_store_or_ask(
        &settings,
        |store| Ok(store.audit_since(since)?),
        || mentiondesk::audit::fetch_remote(settings.http.listen, since_text),
    );
    let records = match records {
        Ok(records) => records,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match format {
        AuditFormat::Table => print!("{}", mentiondesk::audit::table(&records)),
        AuditFormat::Json => return print_json(&records),
    }
    ExitCode::SUCCESS
}

fn report(path: Option<PathBuf>, since_text: &str, format: ReportFormat) -> ExitCode {
    let now = chrono::Utc::now();
    let Some((settings, since)) = recorded_since(&path, since_text, now) else {
        return ExitCode::FAILURE;
    };
    let first_response =
        chrono::Duration::from_std(settings.sla.first_response).unwrap_or(chrono::Duration::MAX);
    let report = read_store_or_ask(
        &settings,
        |store| {
            Ok(mentiondesk::report::from_store(
                store,
                since,
                now,
                first_response,
            )?)
        },
        || mentiondesk::report::fetch_remote(settings.http.listen, since_text),
    );
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match format {
        ReportFormat::Table => print!("{}", mentiondesk::report::table(&report)),
        ReportFormat::Csv => print!("{}", mentiondesk::report::csv(&report)),
        ReportFormat::Json => return print_json(&report),
    }
    ExitCode::SUCCESS
}

fn digest(path: Option<PathBuf>, out: &std::path::Path) -> ExitCode {
    let Some(settings) = load_settings(&path) else {
        return ExitCode::FAILURE;
    };
    let schedule = match mentiondesk::digest::schedule_from_settings(&settings) {
        Ok(schedule) => schedule,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if !settings.store.path.join("sled").exists() {
        eprintln!("no store at {} (store.path)", settings.store.path.display());
        return ExitCode::FAILURE;
    }
    let store = match open_existing_store(&settings) {
        Ok(store) => store,
        Err(StoreError::Locked { path }) => {
            eprintln!("error: the store at {path} is in use by a running mentiondesk; stop it and try again");
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let now = chrono::Utc::now();
    let mut slot = schedule.slot_at(now);
    if slot.due > now {
        slot = schedule.slot_at(slot.from);
    }
    let first_response =
        chrono::Duration::from_std(settings.sla.first_response).unwrap_or(chrono::Duration::MAX);
    let size = (
        mentiondesk::digest::chart::WIDTH,
        mentiondesk::digest::chart::HEIGHT,
    );
    let started = std::time::Instant::now();
    let digest = match mentiondesk::digest::compose(
        &store,
        &slot,
        &schedule.zone_name,
        first_response,
        now,
        size,
    ) {
        Ok(digest) => digest,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed();
    if let Err(error) = std::fs::write(out, &digest.png) {
        eprintln!("error: cannot write {}: {error}", out.display());
        return ExitCode::FAILURE;
    }
    println!("{}\n{}", digest.title, digest.text);
    eprintln!(
        "chart: {} ({} bytes, made in {} ms)",
        out.display(),
        digest.png.len(),
        elapsed.as_millis()
    );
    ExitCode::SUCCESS
}

fn export(path: Option<PathBuf>) -> ExitCode {
    let Some(settings) = load_settings(&path) else {
        return ExitCode::FAILURE;
    };
    if !settings.store.path.join("sled").exists() {
        eprintln!("no store at {} (store.path)", settings.store.path.display());
        return ExitCode::FAILURE;
    }
    let store = match open_existing_store(&settings) {
        Ok(store) => store,
        Err(StoreError::Locked { path }) => {
            eprintln!("error: the store at {path} is in use by a running mentiondesk; stop it (SIGTERM) and export again");
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = store.export(&mut out);
    let flushed = std::io::Write::flush(&mut out);
    match (written, flushed) {
        (Ok(count), Ok(())) => {
            eprintln!(
                "exported {count} records from {}",
                settings.store.path.display()
            );
            ExitCode::SUCCESS
        }
        (Err(error), _) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
        (_, Err(error)) => {
            eprintln!("error: cannot write the dump: {error}");
            ExitCode::FAILURE
        }
    }
}

fn import(path: Option<PathBuf>) -> ExitCode {
    let Some(settings) = load_settings(&path) else {
        return ExitCode::FAILURE;
    };
    if let Err(error) = std::fs::create_dir_all(&settings.store.path) {
        eprintln!(
            "error: cannot create the store directory {}: {error}",
            settings.store.path.display()
        );
        return ExitCode::FAILURE;
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    match Store::import(&settings.store.path.join("sled"), &mut input) {
        Ok(count) => {
            eprintln!(
                "imported {count} records into {}",
                settings.store.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(StoreError::Locked { path }) => {
            eprintln!(
                "error: the store at {path} is in use by a running mentiondesk; stop it first"
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn train(config: Option<PathBuf>, data: Option<PathBuf>) -> ExitCode {
    let Some(settings) = load_settings(&config) else {
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        std::fs::create_dir_all(&settings.store.path)?;
        let store = mentiondesk::store::Store::open(&settings.store.path.join("sled")).map_err(
            |error| {
                anyhow::anyhow!(
                    "cannot open the store at {} (is mentiondesk running? stop it first): {error}",
                    settings.store.path.display()
                )
            },
        )?;
        mentiondesk::training::train(&store, data.as_deref()).await
    });
    match result {
        Ok(report) => {
            println!(
                "trained on {} examples ({} complaints): {} labels from the store, {} rows from the file{}",
                report.examples(),
                report.complaints,
                report.from_store,
                report.from_file,
                if report.skipped > 0 {
                    format!(" ({} records skipped)", report.skipped)
                } else {
                    String::new()
                }
            );
            println!(
                "training took {} ms; accuracy on the training data {:.3} (run `mentiondesk eval` for a fair estimate)",
                report.elapsed.as_millis(),
                report.training_accuracy
            );
            let min_labels = settings.triage.min_labels;
            if report.examples() as u64 >= min_labels {
                println!("saved; the bot uses it from its next start");
            } else {
                println!(
                    "saved; the bot keeps the built-in default until the model has {min_labels} examples ([triage].min_labels)"
                );
            }
            if report.from_file > 0 {
                println!(
                    "it includes {} rows of the file, so the running bot won't replace it by itself with a model of the labels alone: run `mentiondesk train --data` again to add new labels",
                    report.from_file
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn eval(data: &std::path::Path, folds: usize, domain_only: bool, seed: u64) -> ExitCode {
    match mentiondesk::training::evaluate_file_seeded(data, folds, domain_only, seed) {
        Ok((dataset, evaluation)) => {
            use std::io::Write;
            let header = format!(
                "data: {}{}{}",
                data.display(),
                if domain_only {
                    " (domain rows only)"
                } else {
                    ""
                },
                if dataset.skipped.is_empty() {
                    String::new()
                } else {
                    format!("; {} records skipped", dataset.skipped.len())
                }
            );
            // A closed pipe (`eval ... | head`) is not an error worth a panic.
            let _ = write!(std::io::stdout().lock(), "{header}\n{evaluation}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok(settings) => {
            let unavailable = unavailable_adapters(&settings);
            if !unavailable.is_empty() {
                eprintln!(
                    "{}: valid, but this build can't run all of it yet:",
                    path.display()
                );
                for problem in unavailable {
                    eprintln!("  {problem}");
                }
                return ExitCode::FAILURE;
            }
            if !check_sources(path, &settings) {
                return ExitCode::FAILURE;
            }
            if let Some(slack) = &settings.slack {
                match check_slack(slack) {
                    Ok(line) => println!("{line}"),
                    Err(problem) => {
                        eprintln!("{}: {problem}", path.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
            if let Some(discord) = &settings.discord {
                match check_discord(discord) {
                    Ok(lines) => println!("{lines}"),
                    Err(problem) => {
                        eprintln!("{}: {problem}", path.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
            println!("{}: ok ({})", path.display(), summary(&settings));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            let count = errors.problems.len();
            eprintln!(
                "{}: {count} problem{}",
                path.display(),
                if count == 1 { "" } else { "s" }
            );
            for problem in &errors.problems {
                eprintln!("  {}: {}", problem.key, problem.message);
            }
            ExitCode::FAILURE
        }
    }
}

/// Calls Slack's `auth.test` with the bot token: a line to print, or the problem.
/// Signs in to every source; prints one line each. False when any failed.
fn check_sources(path: &std::path::Path, settings: &Settings) -> bool {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return false;
        }
    };
    let results = match runtime.block_on(mentiondesk::app::verify_sources(settings)) {
        Ok(results) => results,
        Err(error) => {
            eprintln!("{}: {error:#}", path.display());
            return false;
        }
    };
    let mut all_ok = true;
    for (index, (name, outcome)) in results.iter().enumerate() {
        match outcome {
            Ok(line) => println!("sources[{index}] ({name}): ok: {line}"),
            Err(problem) => {
                all_ok = false;
                eprintln!(
                    "{}: sources[{index}] ({name}): cannot sign in: {problem}",
                    path.display()
                );
            }
        }
    }
    all_ok
}

fn check_slack(slack: &config::SlackSettings) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    runtime.block_on(async {
        let api = SlackApi::new(&slack.base_url, slack.bot_token.expose())
            .map_err(|error| format!("slack: {error}"))?;
        match api.auth_test().await {
            Ok(identity) => Ok(format!(
                "slack.bot_token: ok (workspace {}, bot user {})",
                identity.team, identity.user_id
            )),
            Err(ChatError::Rejected(reason)) => Err(format!(
                "slack.bot_token: Slack refused the token ({reason}); copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page"
            )),
            Err(error) => Err(format!(
                "slack.base_url: cannot check the token with auth.test: {error}"
            )),
        }
    })
}

/// Calls Discord's `GET /users/@me` with the bot token: the lines to print (with the invite
/// URL), or the problem.
fn check_discord(discord: &config::DiscordSettings) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    runtime.block_on(async {
        match mentiondesk::chat::discord::check(discord).await {
            Ok(identity) => Ok(format!(
                "discord.bot_token: ok (bot {}, id {})\ndiscord invite URL (View Channel, Send Messages, Embed Links, Create Public Threads, Send Messages in Threads, Read Message History): {}",
                identity.name,
                identity.user_id,
                mentiondesk::chat::discord::invite_url(discord, identity.user_id)
            )),
            Err(ChatError::Rejected(reason)) => Err(format!(
                "discord.bot_token: Discord refused the token ({reason}); copy the token from the Bot page of the application in the Discord Developer Portal"
            )),
            Err(error) => Err(format!(
                "discord.base_url: cannot check the token with GET /users/@me: {error}"
            )),
        }
    })
}

fn run(path: Option<PathBuf>) -> ExitCode {
    let Some(settings) = load_settings(&path) else {
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tracing::info!(summary = %summary(&settings), "Starting mentiondesk {}", env!("CARGO_PKG_VERSION"));
        let app = Application::build(settings).await?;
        let shutdown = CancellationToken::new();
        tokio::spawn(mentiondesk::shutdown::cancel_on_signal(shutdown.clone()));
        app.run_until_stopped(shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "mentiondesk stopped with an error"
            );
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn summary(settings: &Settings) -> String {
    let sources: Vec<String> = settings
        .sources
        .iter()
        .map(|s| format!("{} ({})", s.name(), s.network()))
        .collect();
    let mut chats = Vec::new();
    if let Some(console) = &settings.console {
        chats.push(format!("console on http://{}/", console.listen));
    }
    if settings.slack.is_some() {
        chats.push("slack".to_string());
    }
    if settings.discord.is_some() {
        chats.push("discord".to_string());
    }
    format!(
        "sources: {}; chats: {}",
        sources.join(", "),
        chats.join(", ")
    )
}
