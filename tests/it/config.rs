//! The configuration file as the admin sees it: the shipped example, broken files and secrets.

use std::path::{Path, PathBuf};

use mentiondesk::config::{self, ConfigErrors, Settings, SourceSettings};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// An environment where every variable is set, to `value-of-NAME`.
fn full_env(name: &str) -> Option<String> {
    Some(format!("value-of-{name}"))
}

fn keys(errors: &ConfigErrors) -> Vec<&str> {
    errors
        .problems
        .iter()
        .map(|problem| problem.key.as_str())
        .collect()
}

/// Removes the `#` in front of every commented-out option or table of the example.
fn uncomment_every_option(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest)
                if rest.starts_with(|first: char| {
                    first.is_ascii_alphabetic() || first == '[' || first == '"'
                }) =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_file_loads_as_is() -> anyhow::Result<()> {
    let settings = config::load(&manifest_dir().join("config.example.toml"))?;

    assert_eq!(settings.brand.name, "Acme");
    assert_eq!(
        settings.brand.handles,
        ["acme.bsky.social", "@acme@mastodon.social", "AcmeSupport"]
    );
    assert!(!settings.brand.keywords.is_empty());
    assert_eq!(settings.store.path, manifest_dir().join("mentiondesk-data"));
    assert_eq!(settings.http.listen.to_string(), "127.0.0.1:8686");
    let console = settings.console.as_ref().expect("the console is enabled");
    assert_eq!(console.listen.to_string(), "127.0.0.1:8687");
    assert!(console.auth_token.is_none());
    assert!(settings.slack.is_none() && settings.discord.is_none());

    assert_eq!(settings.sources.len(), 1);
    match settings.source("demo") {
        Some(SourceSettings::Replay(replay)) => {
            assert_eq!(replay.path, manifest_dir().join("examples/mentions.jsonl"));
        }
        other => panic!("expected the demo replay source, got {other:?}"),
    }

    let escalations: Vec<(&str, &str)> = settings
        .escalations
        .iter()
        .map(|target| (target.id.as_str(), target.label.as_str()))
        .collect();
    assert_eq!(
        escalations,
        [("billing", "Billing team"), ("oncall", "On-call engineer")]
    );
    for target in &settings.escalations {
        assert!(target.slack_channel.is_none() && target.discord_channel.is_none());
    }
    Ok(())
}

#[test]
fn the_embedded_default_needs_no_environment() -> anyhow::Result<()> {
    let settings = config::parse(config::DEFAULT_CONFIG, &no_env, Path::new("/srv/bot"))?;
    assert_eq!(
        settings.store.path,
        PathBuf::from("/srv/bot/mentiondesk-data")
    );
    assert_eq!(settings.sources[0].network(), "replay");
    config::embedded()?;
    Ok(())
}

#[test]
fn every_commented_option_in_the_example_is_valid_and_shows_its_default() -> anyhow::Result<()> {
    let everything = uncomment_every_option(config::DEFAULT_CONFIG);
    let settings = config::parse(&everything, &full_env, Path::new("/srv/bot"))?;

    let networks: Vec<&str> = settings
        .sources
        .iter()
        .map(SourceSettings::network)
        .collect();
    assert_eq!(networks, ["replay", "mastodon", "bluesky", "x"]);
    for source in &settings.sources {
        match source {
            SourceSettings::Replay(replay) => {
                assert!(replay.pace);
                assert_eq!(replay.poll_interval, config::DEFAULT_REPLAY_POLL_INTERVAL);
            }
            SourceSettings::Mastodon(mastodon) => {
                assert_eq!(mastodon.access_token.expose(), "value-of-MASTODON_TOKEN");
                assert_eq!(mastodon.poll_interval, config::DEFAULT_POLL_INTERVAL);
                assert_eq!(mastodon.backfill, config::DEFAULT_BACKFILL);
                assert!(!mastodon.streaming);
            }
            SourceSettings::Bluesky(bluesky) => {
                assert_eq!(bluesky.base_url, config::DEFAULT_BLUESKY_BASE_URL);
                assert_eq!(bluesky.poll_interval, config::DEFAULT_POLL_INTERVAL);
                assert_eq!(bluesky.backfill, config::DEFAULT_BACKFILL);
                assert!(bluesky.keywords.is_empty());
                assert!(bluesky.appview_url.is_some());
            }
            SourceSettings::X(x) => {
                assert_eq!(x.base_url, config::DEFAULT_X_BASE_URL);
                assert_eq!(x.poll_interval, config::DEFAULT_X_POLL_INTERVAL);
                assert_eq!(x.backfill, config::DEFAULT_BACKFILL);
                assert_eq!(x.monthly_read_budget, config::DEFAULT_X_MONTHLY_READ_BUDGET);
                assert_eq!(
                    x.monthly_write_budget,
                    config::DEFAULT_X_MONTHLY_WRITE_BUDGET
                );
                assert_eq!(x.budget_notice_at, config::DEFAULT_X_BUDGET_NOTICE_AT);
                assert!(x.keywords.is_empty());
            }
        }
    }
    let slack = settings.slack.as_ref().expect("slack is documented");
    assert_eq!(slack.base_url, config::DEFAULT_SLACK_BASE_URL);
    let discord = settings.discord.as_ref().expect("discord is documented");
    assert_eq!(discord.base_url, config::DEFAULT_DISCORD_BASE_URL);
    let billing = settings.escalation("billing").expect("billing target");
    assert!(billing.webhook.is_some() && billing.mention.is_some());
    assert_eq!(settings.triage, config::TriageSettings::default());
    assert!(settings.replies.require_pii_confirmation);
    assert_eq!(settings.replies.signatures.len(), 1);
    assert_eq!(settings.runtime, config::RuntimeSettings::default());
    Ok(())
}

#[test]
fn five_mistakes_in_five_places_are_five_problems() {
    let text = r#"
[brand]
name = "Acme"
colour = "red"

[[sources]]
type = "replay"
name = "demo"

[[sources]]
type = "mastodon"
name = "mastodon-social"
base_url = "mastodon.social"
access_token = "t"

[console]
listen = "0.0.0.0:8687"

[runtime]
shutdown_timeout = "a while"
"#;
    let errors = config::parse(text, &no_env, Path::new("/srv/bot"))
        .expect_err("the file has five mistakes");
    assert_eq!(
        keys(&errors),
        [
            "brand.colour",
            "sources[0].path",
            "sources[1].base_url",
            "console.auth_token",
            "runtime.shutdown_timeout",
        ],
        "{errors}"
    );
    let rendered = errors.to_string();
    assert_eq!(rendered.lines().count(), 5);
    assert!(rendered.contains("brand.colour: unknown key"));
    assert!(rendered.contains("sources[0].path: missing"));
}

const WITH_SECRETS: &str = r#"
[brand]
name = "${BRAND} (${REGION})"
keywords = ["price: $${PRICE}", "$5 deal"]

[[sources]]
type = "mastodon"
name = "m"
base_url = "https://mastodon.example"
access_token = "${MASTODON_TOKEN}"

[slack]
bot_token = "${SLACK_BOT_TOKEN}"
app_token = "${SLACK_APP_TOKEN}"
channel = "C0123456789"

[console]
auth_token = "${CONSOLE_TOKEN}"

[[escalations]]
id = "tickets"
label = "Tickets"
webhook = { url = "https://tickets.example/hook", secret = "${TICKETS_SECRET}" }
"#;

fn secrets_env(name: &str) -> Option<String> {
    let value = match name {
        "BRAND" => "Acme",
        "REGION" => "EU",
        "MASTODON_TOKEN" => "mastodon-secret-1",
        "SLACK_BOT_TOKEN" => "xoxb-secret-2",
        "SLACK_APP_TOKEN" => "xapp-secret-3",
        "CONSOLE_TOKEN" => "console-secret-4",
        "TICKETS_SECRET" => "tickets-secret-5",
        _ => return None,
    };
    Some(value.to_owned())
}

#[test]
fn environment_variables_are_substituted_and_escapes_kept() -> anyhow::Result<()> {
    let settings = config::parse(WITH_SECRETS, &secrets_env, Path::new("/srv/bot"))?;
    assert_eq!(settings.brand.name, "Acme (EU)");
    assert_eq!(settings.brand.keywords, ["price: ${PRICE}", "$5 deal"]);
    let slack = settings.slack.as_ref().expect("slack is configured");
    assert_eq!(slack.bot_token.expose(), "xoxb-secret-2");
    let webhook = settings.escalations[0].webhook.as_ref().expect("webhook");
    assert_eq!(webhook.secret.expose(), "tickets-secret-5");
    Ok(())
}

#[test]
fn missing_environment_variables_name_the_key_and_the_variable() {
    let only_brand = |name: &str| (name == "BRAND").then(|| "Acme".to_owned());
    let errors = config::parse(WITH_SECRETS, &only_brand, Path::new("/srv/bot"))
        .expect_err("most variables are missing");
    let lines: Vec<String> = errors.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "brand.name: environment variable REGION is not set",
            "sources[0].access_token: environment variable MASTODON_TOKEN is not set",
            "slack.app_token: environment variable SLACK_APP_TOKEN is not set",
            "slack.bot_token: environment variable SLACK_BOT_TOKEN is not set",
            "console.auth_token: environment variable CONSOLE_TOKEN is not set",
            "escalations[0].webhook.secret: environment variable TICKETS_SECRET is not set",
        ]
    );
}

#[test]
fn secrets_never_appear_in_debug_output() -> anyhow::Result<()> {
    let settings: Settings = config::parse(WITH_SECRETS, &secrets_env, Path::new("/srv/bot"))?;
    let debug = format!("{settings:?}");
    for secret in [
        "mastodon-secret-1",
        "xoxb-secret-2",
        "xapp-secret-3",
        "console-secret-4",
        "tickets-secret-5",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked into {debug}");
    }
    assert!(debug.contains("[redacted]"));
    assert!(
        debug.contains("Acme (EU)"),
        "non-secret values stay visible"
    );
    Ok(())
}

#[test]
fn load_resolves_paths_against_the_file_and_reports_unreadable_files() -> anyhow::Result<()> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("bot.toml");
    std::fs::write(
        &path,
        "[brand]\nname = \"Acme\"\n[store]\npath = \"data\"\n\
         [[sources]]\ntype = \"replay\"\nname = \"demo\"\npath = \"in.jsonl\"\nsent_path = \"out.jsonl\"\n[console]\n",
    )?;
    let settings = config::load(&path)?;
    assert_eq!(settings.store.path, directory.path().join("data"));
    match settings.source("demo") {
        Some(SourceSettings::Replay(replay)) => {
            assert_eq!(replay.path, directory.path().join("in.jsonl"));
            assert_eq!(replay.sent_path, Some(directory.path().join("out.jsonl")));
        }
        other => panic!("expected the demo replay source, got {other:?}"),
    }

    let missing = directory.path().join("missing.toml");
    let errors = config::load(&missing).expect_err("the file does not exist");
    assert_eq!(keys(&errors), [missing.display().to_string()]);
    assert!(errors.problems[0]
        .message
        .starts_with("cannot read the configuration file: "));
    Ok(())
}

#[test]
fn keyword_watches_and_the_budget_notice_share_are_checked_with_their_keys() {
    let text = format!(
        r#"
[brand]
name = "Acme"

[[sources]]
type = "bluesky"
name = "bsky"
identifier = "acme.bsky.social"
app_password = "p"
keywords = ["acme", " "]
appview_url = "api.bsky.app"

[[sources]]
type = "x"
name = "x"
user_id = "1"
bearer_token = "b"
consumer_key = "k"
consumer_secret = "s"
access_token = "a"
access_token_secret = "t"
budget_notice_at = 1.5
keywords = ["say \"hi\"", "{long}"]

[console]
"#,
        long = "w".repeat(129)
    );
    let errors =
        config::parse(&text, &no_env, Path::new("/srv/bot")).expect_err("the file has mistakes");
    assert_eq!(
        keys(&errors),
        [
            "sources[0].appview_url",
            "sources[0].keywords[1]",
            "sources[1].budget_notice_at",
            "sources[1].keywords[0]",
            "sources[1].keywords[1]",
        ],
        "{errors}"
    );
}
