//! Cross-field checks that run after every section was read.
//!
//! Each check looks only at the parts that could be read, so a broken section produces its own
//! problems once and is not blamed again here. Nothing in this module does IO: URLs are parsed,
//! never fetched (time zone names are looked up in the tz database, a local read).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use super::read::{join_index, join_key, Report};
use super::{
    BrandSettings, BusinessHoursSettings, ConsoleSettings, DigestSettings, DiscordSettings,
    EscalationTarget, Parts, PermissionsSettings, ReplySettings, RuntimeSettings, Secret,
    SlaSettings, SlackSettings, SourceSettings, TriageSettings, TRIAGE_LABELS,
};

/// Runs every cross-field check, adding one problem per finding.
pub(crate) fn check(parts: &Parts, report: &mut Report) {
    if let Some(brand) = &parts.brand {
        check_brand(brand, report);
    }
    check_sources(parts, report);
    let any_chat = parts.slack_present || parts.discord_present || parts.console_present;
    if !any_chat {
        report.problem(
            "console",
            "no chat configured: add a [console], [slack] or [discord] section",
        );
    }
    if let Some(slack) = &parts.slack {
        check_slack(slack, report);
    }
    if let Some(discord) = &parts.discord {
        check_discord(discord, report);
    }
    if let Some(console) = &parts.console {
        check_console(console, report);
    }
    check_escalations(parts, report);
    if let Some(triage) = &parts.triage {
        check_triage(triage, report);
    }
    if let Some(replies) = &parts.replies {
        check_replies(replies, report);
    }
    if let Some(sla) = &parts.sla {
        check_sla(sla, parts, report);
    }
    if let Some(runtime) = &parts.runtime {
        check_runtime(runtime, report);
    }
    if let Some(permissions) = &parts.permissions {
        check_permissions(permissions, report);
    }
    let approval = parts
        .replies
        .as_ref()
        .is_some_and(|replies| replies.require_approval);
    let approvers = parts
        .permissions
        .as_ref()
        .is_some_and(|permissions| !permissions.approve.is_empty());
    if approval && !approvers {
        report.problem(
            "replies.require_approval",
            "needs [permissions].approve: the people or groups who approve reply drafts",
        );
    }
    if let Some(digest) = &parts.digest {
        check_digest(digest, report);
    }
}

fn check_digest(digest: &DigestSettings, report: &mut Report) {
    if let Err(message) = crate::domain::parse_weekday(&digest.weekday) {
        report.problem("digest.weekday", message);
    }
    if let Err(message) = crate::domain::parse_clock_time(&digest.time) {
        report.problem("digest.time", message);
    }
    if let Some(zone) = &digest.timezone {
        if let Err(error) = jiff::tz::TimeZone::get(zone.trim()) {
            report.problem(
                "digest.timezone",
                format!("unknown time zone \"{zone}\" ({error}): use an IANA name like \"Europe/Berlin\""),
            );
        }
    }
    if let Some(channel) = &digest.slack_channel {
        slack_channel(report, "digest.slack_channel", channel);
    }
    if let Some(channel) = &digest.discord_channel {
        discord_channel(report, "digest.discord_channel", channel);
    }
    if digest.console_channel.trim().is_empty() {
        report.problem("digest.console_channel", "must not be empty");
    }
}

fn check_permissions(permissions: &PermissionsSettings, report: &mut Report) {
    for (name, list) in [
        ("reply", &permissions.reply),
        ("escalate", &permissions.escalate),
        ("resolve", &permissions.resolve),
        ("approve", &permissions.approve),
    ] {
        let key = join_key("permissions", name);
        for (index, principal) in list.iter().enumerate() {
            if let Err(message) = crate::domain::Principal::parse(principal) {
                report.problem(join_index(&key, index), message);
            }
        }
    }
}

fn check_brand(brand: &BrandSettings, report: &mut Report) {
    non_empty(report, "brand.name", &brand.name);
    non_empty_entries(report, "brand.keywords", &brand.keywords);
    non_empty_entries(report, "brand.handles", &brand.handles);
}

fn check_sources(parts: &Parts, report: &mut Report) {
    if !parts.sources_present {
        report.problem(
            "sources",
            "missing: at least one [[sources]] table is required",
        );
        return;
    }
    if parts.sources_malformed {
        return;
    }
    if parts.sources.is_empty() {
        report.problem("sources", "at least one [[sources]] table is required");
        return;
    }
    let mut names = BTreeSet::new();
    for (index, name) in parts.source_names.iter().enumerate() {
        let Some(name) = name else { continue };
        let name_key = join_key(&join_index("sources", index), "name");
        if name.trim().is_empty() {
            report.problem(&name_key, "must not be empty");
        } else if !names.insert(name.as_str()) {
            report.problem(&name_key, format!("duplicate source name \"{name}\""));
        }
    }
    for (index, source) in parts.sources.iter().enumerate() {
        let Some(source) = source else { continue };
        let key = join_index("sources", index);
        positive(
            report,
            &join_key(&key, "poll_interval"),
            source.poll_interval(),
        );
        match source {
            SourceSettings::Replay(replay) => {
                if replay.path.as_os_str().is_empty() {
                    report.problem(join_key(&key, "path"), "must not be empty");
                }
            }
            SourceSettings::Mastodon(mastodon) => {
                http_url(report, &join_key(&key, "base_url"), &mastodon.base_url);
                secret(
                    report,
                    &join_key(&key, "access_token"),
                    &mastodon.access_token,
                );
                positive(
                    report,
                    &join_key(&key, "request_timeout"),
                    mastodon.request_timeout,
                );
            }
            SourceSettings::Bluesky(bluesky) => {
                http_url(report, &join_key(&key, "base_url"), &bluesky.base_url);
                http_url(report, &join_key(&key, "web_url"), &bluesky.web_url);
                non_empty(report, &join_key(&key, "identifier"), &bluesky.identifier);
                secret(
                    report,
                    &join_key(&key, "app_password"),
                    &bluesky.app_password,
                );
                if let Some(appview_url) = &bluesky.appview_url {
                    http_url(report, &join_key(&key, "appview_url"), appview_url);
                }
                keywords(
                    report,
                    &join_key(&key, "keywords"),
                    &bluesky.keywords,
                    10,
                    256,
                );
            }
            SourceSettings::X(x) => {
                http_url(report, &join_key(&key, "base_url"), &x.base_url);
                let user_id_key = join_key(&key, "user_id");
                if x.user_id.is_empty() {
                    report.problem(&user_id_key, "must not be empty");
                } else if !x.user_id.bytes().all(|byte| byte.is_ascii_digit()) {
                    report.problem(
                        &user_id_key,
                        format!("expected the account's numeric id, not \"{}\"", x.user_id),
                    );
                }
                for (name, value) in [
                    ("bearer_token", &x.bearer_token),
                    ("consumer_key", &x.consumer_key),
                    ("consumer_secret", &x.consumer_secret),
                    ("access_token", &x.access_token),
                    ("access_token_secret", &x.access_token_secret),
                ] {
                    secret(report, &join_key(&key, name), value);
                }
                if !(x.budget_notice_at > 0.0 && x.budget_notice_at < 1.0) {
                    report.problem(
                        join_key(&key, "budget_notice_at"),
                        format!(
                            "must be a share between 0 and 1 (e.g. 0.8), not {}",
                            x.budget_notice_at
                        ),
                    );
                }
                keywords(report, &join_key(&key, "keywords"), &x.keywords, 20, 128);
                let query_key = join_key(&key, "keywords");
                let query = crate::sources::x::search_query(&x.keywords);
                if query.chars().count() > crate::sources::x::SEARCH_QUERY_MAX {
                    report.problem(
                        query_key,
                        format!(
                            "the search query they make is {} characters; X accepts {}",
                            query.chars().count(),
                            crate::sources::x::SEARCH_QUERY_MAX
                        ),
                    );
                }
            }
        }
    }
}

/// Watched keywords: at most `max` of them, none empty, none longer than `max_chars`.
fn keywords(report: &mut Report, key: &str, keywords: &[String], max: usize, max_chars: usize) {
    if keywords.len() > max {
        report.problem(
            key,
            format!("at most {max} keywords per source, not {}", keywords.len()),
        );
    }
    for (index, keyword) in keywords.iter().enumerate() {
        let item_key = join_index(key, index);
        if keyword.trim().is_empty() {
            report.problem(&item_key, "must not be empty");
        } else if keyword.chars().count() > max_chars {
            report.problem(&item_key, format!("must be at most {max_chars} characters"));
        } else if keyword.contains('"') {
            report.problem(&item_key, "must not contain a double quote");
        }
    }
}

fn check_slack(slack: &SlackSettings, report: &mut Report) {
    secret(report, "slack.bot_token", &slack.bot_token);
    match (&slack.app_token, &slack.signing_secret) {
        (None, None) => report.problem(
            "slack.app_token",
            "missing: Socket Mode needs an app-level token (xapp-...), or set slack.signing_secret for HTTP mode",
        ),
        (app_token, signing_secret) => {
            if let Some(app_token) = app_token {
                secret(report, "slack.app_token", app_token);
            }
            if let Some(signing_secret) = signing_secret {
                secret(report, "slack.signing_secret", signing_secret);
            }
        }
    }
    http_url(report, "slack.base_url", &slack.base_url);
    slack_channel(report, "slack.channel", &slack.channel);
    if let Some(ops_channel) = &slack.ops_channel {
        slack_channel(report, "slack.ops_channel", ops_channel);
    }
    if let Some(kudos_channel) = &slack.kudos_channel {
        slack_channel(report, "slack.kudos_channel", kudos_channel);
    }
}

fn check_discord(discord: &DiscordSettings, report: &mut Report) {
    secret(report, "discord.bot_token", &discord.bot_token);
    http_url(report, "discord.base_url", &discord.base_url);
    discord_channel(report, "discord.channel", &discord.channel);
    if discord.ratelimiter
        && discord.base_url.trim_end_matches('/') != super::DEFAULT_DISCORD_BASE_URL
    {
        report.problem(
            "discord.ratelimiter",
            "serenity only sends requests to a base_url other than https://discord.com with its rate limiter off: set ratelimiter = false (for a rate-limiting proxy or a test fake)",
        );
    }
    if let Some(ops_channel) = &discord.ops_channel {
        discord_channel(report, "discord.ops_channel", ops_channel);
    }
    if let Some(kudos_channel) = &discord.kudos_channel {
        discord_channel(report, "discord.kudos_channel", kudos_channel);
    }
}

fn check_console(console: &ConsoleSettings, report: &mut Report) {
    match &console.auth_token {
        Some(token) => secret(report, "console.auth_token", token),
        None if !is_loopback(console.listen) => report.problem(
            "console.auth_token",
            format!(
                "required because console.listen ({}) is not a loopback address",
                console.listen
            ),
        ),
        None => {}
    }
}

fn check_escalations(parts: &Parts, report: &mut Report) {
    let mut ids = BTreeSet::new();
    for (index, id) in parts.escalation_ids.iter().enumerate() {
        let Some(id) = id else { continue };
        let id_key = join_key(&join_index("escalations", index), "id");
        if id.trim().is_empty() {
            report.problem(&id_key, "must not be empty");
        } else if !ids.insert(id.as_str()) {
            report.problem(&id_key, format!("duplicate escalation id \"{id}\""));
        }
    }
    for (index, target) in parts.escalations.iter().enumerate() {
        let Some(target) = target else { continue };
        let key = join_index("escalations", index);
        non_empty(report, &join_key(&key, "label"), &target.label);
        check_escalation_destinations(parts, target, &key, report);
        if let Some(mention) = &target.mention {
            non_empty(report, &join_key(&key, "mention"), mention);
        }
    }
}

fn check_escalation_destinations(
    parts: &Parts,
    target: &EscalationTarget,
    key: &str,
    report: &mut Report,
) {
    if let Some(channel) = &target.slack_channel {
        let channel_key = join_key(key, "slack_channel");
        if parts.slack_present {
            slack_channel(report, &channel_key, channel);
        } else {
            report.problem(&channel_key, "set, but there is no [slack] section");
        }
    }
    if let Some(channel) = &target.discord_channel {
        let channel_key = join_key(key, "discord_channel");
        if parts.discord_present {
            discord_channel(report, &channel_key, channel);
        } else {
            report.problem(&channel_key, "set, but there is no [discord] section");
        }
    }
    if let Some(webhook) = &target.webhook {
        let webhook_key = join_key(key, "webhook");
        http_url(report, &join_key(&webhook_key, "url"), &webhook.url);
        secret(report, &join_key(&webhook_key, "secret"), &webhook.secret);
    }
    let has_destination = target.slack_channel.is_some()
        || target.discord_channel.is_some()
        || target.webhook.is_some();
    // The console lists every target as a channel of its own, so it is a destination for all.
    if !has_destination && !parts.console_present {
        report.problem(
            key,
            format!(
                "escalation \"{}\" has no destination: set slack_channel, discord_channel or webhook, or enable [console]",
                target.id
            ),
        );
    }
}

fn check_triage(triage: &TriageSettings, report: &mut Report) {
    if triage.card_labels.is_empty() {
        report.problem(
            "triage.card_labels",
            "must list at least one label, or no post would ever become a card",
        );
    }
    for (index, label) in triage.card_labels.iter().enumerate() {
        if !TRIAGE_LABELS.contains(&label.as_str()) {
            report.problem(
                join_index("triage.card_labels", index),
                format!(
                    "unknown label \"{label}\", expected one of {}",
                    TRIAGE_LABELS.join(", ")
                ),
            );
        }
    }
    non_empty_entries(report, "triage.include_keywords", &triage.include_keywords);
    non_empty_entries(report, "triage.exclude_keywords", &triage.exclude_keywords);
    non_empty_entries(report, "triage.ignore_authors", &triage.ignore_authors);
    for (name, patterns) in [
        ("triage.include_patterns", &triage.include_patterns),
        ("triage.exclude_patterns", &triage.exclude_patterns),
    ] {
        for (index, pattern) in patterns.iter().enumerate() {
            let key = join_index(name, index);
            if pattern.trim().is_empty() {
                report.problem(key, "must not be empty");
            } else if let Err(error) = regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
            {
                let first_line = error.to_string();
                let message = first_line
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim_start_matches("error: ")
                    .to_string();
                report.problem(key, format!("invalid regex: {message}"));
            }
        }
    }
    for (index, language) in triage.languages.iter().enumerate() {
        let primary = language.split(['-', '_']).next().unwrap_or_default();
        let letters = primary.len();
        if !(2..=3).contains(&letters) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
            report.problem(
                join_index("triage.languages", index),
                format!("\"{language}\" is not a language code such as \"en\" or \"pt-BR\""),
            );
        }
    }
    if triage.min_labels < 2 {
        report.problem(
            "triage.min_labels",
            format!(
                "must be at least 2 (a model needs a complaint and a non-complaint), not {}",
                triage.min_labels
            ),
        );
    }
    if triage.retrain_after > MAX_RETRAIN_AFTER {
        report.problem(
            "triage.retrain_after",
            format!(
                "must be at most {MAX_RETRAIN_AFTER} (0 turns automatic retraining off), not {}",
                triage.retrain_after
            ),
        );
    }
    if !(0.0..=1.0).contains(&triage.min_score) {
        report.problem(
            "triage.min_score",
            format!("must be between 0 and 1, not {}", triage.min_score),
        );
    }
    check_storm_and_spike(triage, report);
}

fn check_storm_and_spike(triage: &TriageSettings, report: &mut Report) {
    let storm = &triage.storm;
    if !(storm.threshold > 0.0 && storm.threshold <= 1.0) {
        report.problem(
            "triage.storm.threshold",
            format!("must be above 0 and at most 1, not {}", storm.threshold),
        );
    }
    positive(report, "triage.storm.window", storm.window);
    if storm.min_members < 2 {
        report.problem(
            "triage.storm.min_members",
            format!(
                "must be at least 2 (an incident has several posts), not {}",
                storm.min_members
            ),
        );
    }
    let spike = &triage.spike;
    non_empty_entries(report, "triage.spike.keywords", &spike.keywords);
    if spike.bucket < Duration::from_secs(10) {
        report.problem(
            "triage.spike.bucket",
            format!(
                "must be at least 10s, not {}",
                humantime::format_duration(spike.bucket)
            ),
        );
    }
    if !(spike.factor > 1.0 && spike.factor.is_finite()) {
        report.problem(
            "triage.spike.factor",
            format!(
                "must be above 1 (a multiple of the usual volume), not {}",
                spike.factor
            ),
        );
    }
    if spike.min_count == 0 {
        report.problem("triage.spike.min_count", "must be at least 1");
    }
    if !(spike.smoothing > 0.0 && spike.smoothing <= 1.0) {
        report.problem(
            "triage.spike.smoothing",
            format!("must be above 0 and at most 1, not {}", spike.smoothing),
        );
    }
}

/// The longest saved reply name: what a Slack select option shows.
const SAVED_NAME_MAX: usize = 75;
/// The largest `[triage].retrain_after`: beyond it, automatic retraining would never happen
/// in practice (0 says so plainly).
const MAX_RETRAIN_AFTER: u64 = 1_000_000;

fn check_replies(replies: &ReplySettings, report: &mut Report) {
    for (agent, signature) in &replies.signatures {
        non_empty(report, &join_key("replies.signatures", agent), signature);
    }
    let mut names = std::collections::BTreeSet::new();
    for (index, saved) in replies.saved.iter().enumerate() {
        let key = join_index("replies.saved", index);
        let name = saved.name.trim();
        if name.is_empty() {
            report.problem(format!("{key}.name"), "must not be empty");
        } else if name.chars().count() > SAVED_NAME_MAX {
            report.problem(
                format!("{key}.name"),
                format!("must be at most {SAVED_NAME_MAX} characters (the pickers show it)"),
            );
        } else if !names.insert(name) {
            report.problem(
                format!("{key}.name"),
                format!("{name:?} is used by an earlier saved reply: names must be unique"),
            );
        }
        non_empty(report, &format!("{key}.text"), &saved.text);
        for unknown in crate::domain::replies::unknown_placeholders(&saved.text) {
            report.problem(
                format!("{key}.text"),
                format!(
                    "unknown placeholder {{{unknown}}}: use {}",
                    crate::domain::replies::PLACEHOLDERS
                        .map(|known| format!("{{{known}}}"))
                        .join(" or ")
                ),
            );
        }
    }
}

fn check_sla(sla: &SlaSettings, parts: &Parts, report: &mut Report) {
    positive(report, "sla.first_response", sla.first_response);
    positive(report, "sla.next_response", sla.next_response);
    if !(sla.warning_at > 0.0 && sla.warning_at < 1.0) {
        report.problem(
            "sla.warning_at",
            format!(
                "must be between 0 and 1 (a share of first_response), not {}",
                sla.warning_at
            ),
        );
    }
    if let Some(on_call) = &sla.on_call {
        let known = parts
            .escalation_ids
            .iter()
            .flatten()
            .any(|id| id == on_call);
        if !known {
            report.problem(
                "sla.on_call",
                format!("\"{on_call}\" is not the id of an [[escalations]] target"),
            );
        }
    }
    if let Some(hours) = &sla.business_hours {
        check_business_hours(hours, report);
    }
    for (index, route) in sla.routes.iter().enumerate() {
        let key = join_index("sla.routes", index);
        if route.network.is_none() && route.source.is_none() && route.label.is_none() {
            report.problem(
                &key,
                "matches every case: set network, source or label (or change [sla] itself)",
            );
        }
        if route.first_response.is_none() && route.next_response.is_none() {
            report.problem(&key, "sets no target: set first_response or next_response");
        }
        if let Some(network) = &route.network {
            if let Err(message) = network.parse::<crate::domain::Network>() {
                report.problem(
                    join_key(&key, "network"),
                    format!("{message}, expected bluesky, mastodon or x"),
                );
            }
        }
        if let Some(source) = &route.source {
            let known = parts
                .source_names
                .iter()
                .flatten()
                .any(|name| name == source);
            if !known {
                report.problem(
                    join_key(&key, "source"),
                    format!("\"{source}\" is not the name of a [[sources]] table"),
                );
            }
        }
        if let Some(label) = &route.label {
            if !TRIAGE_LABELS.contains(&label.as_str()) {
                report.problem(
                    join_key(&key, "label"),
                    format!(
                        "unknown label \"{label}\", expected one of {}",
                        TRIAGE_LABELS.join(", ")
                    ),
                );
            }
        }
        for (name, target) in [
            ("first_response", route.first_response),
            ("next_response", route.next_response),
        ] {
            if let Some(target) = target {
                positive(report, &join_key(&key, name), target);
            }
        }
    }
}

fn check_business_hours(hours: &BusinessHoursSettings, report: &mut Report) {
    let key = "sla.business_hours";
    if let Err(error) = jiff::tz::TimeZone::get(hours.timezone.trim()) {
        report.problem(
            join_key(key, "timezone"),
            format!(
                "unknown time zone \"{}\" ({error}): use an IANA name like \"Europe/Berlin\"",
                hours.timezone
            ),
        );
    }
    if hours.days.is_empty() {
        report.problem(
            join_key(key, "days"),
            "must list at least one working day, or no deadline would ever come",
        );
    }
    for (index, day) in hours.days.iter().enumerate() {
        if let Err(message) = crate::domain::parse_weekday(day) {
            report.problem(join_index(&join_key(key, "days"), index), message);
        }
    }
    let opens = crate::domain::parse_clock_time(&hours.opens);
    let closes = crate::domain::parse_clock_time(&hours.closes);
    if let Err(message) = &opens {
        report.problem(join_key(key, "opens"), message);
    }
    if let Err(message) = &closes {
        report.problem(join_key(key, "closes"), message);
    }
    if let (Ok(opens), Ok(closes)) = (opens, closes) {
        if opens >= closes {
            report.problem(
                join_key(key, "closes"),
                format!(
                    "must be after opens ({}), not \"{}\"",
                    hours.opens, hours.closes
                ),
            );
        }
    }
    for (index, date) in hours.holidays.iter().enumerate() {
        if let Err(message) = crate::domain::parse_date(date) {
            report.problem(join_index(&join_key(key, "holidays"), index), message);
        }
    }
}

fn check_runtime(runtime: &RuntimeSettings, report: &mut Report) {
    positive(report, "runtime.shutdown_timeout", runtime.shutdown_timeout);
    positive(
        report,
        "runtime.health_notice_after",
        runtime.health_notice_after,
    );
}

fn non_empty(report: &mut Report, key: &str, value: &str) {
    if value.trim().is_empty() {
        report.problem(key, "must not be empty");
    }
}

fn non_empty_entries(report: &mut Report, key: &str, values: &[String]) {
    for (index, value) in values.iter().enumerate() {
        non_empty(report, &join_index(key, index), value);
    }
}

fn secret(report: &mut Report, key: &str, value: &Secret) {
    if value.expose().trim().is_empty() {
        report.problem(key, "must not be empty");
    }
}

fn positive(report: &mut Report, key: &str, value: Duration) {
    if value.is_zero() {
        report.problem(key, "must be longer than zero");
    }
}

fn is_loopback(address: SocketAddr) -> bool {
    address.ip().is_loopback()
}

fn http_url(report: &mut Report, key: &str, text: &str) {
    match url::Url::parse(text) {
        Err(error) => report.problem(key, format!("invalid URL \"{text}\": {error}")),
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => report.problem(
            key,
            format!(
                "expected an http or https URL, not a \"{}\" one",
                parsed.scheme()
            ),
        ),
        Ok(_) => {}
    }
}

/// Checks a Slack channel id: `C` or `G` followed by uppercase letters and digits.
fn slack_channel(report: &mut Report, key: &str, channel: &str) {
    let mut bytes = channel.bytes();
    let well_formed = matches!(bytes.next(), Some(b'C' | b'G'))
        && channel.len() >= 3
        && bytes.all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit());
    if channel.is_empty() {
        report.problem(key, "must not be empty");
    } else if !well_formed {
        report.problem(
            key,
            format!("expected a Slack channel id like \"C0123456789\", not \"{channel}\""),
        );
    }
}

/// Checks a Discord channel id: a numeric snowflake that fits in 64 bits.
fn discord_channel(report: &mut Report, key: &str, channel: &str) {
    let well_formed = channel.bytes().all(|byte| byte.is_ascii_digit())
        && channel.parse::<u64>().is_ok_and(|snowflake| snowflake > 0);
    if channel.is_empty() {
        report.problem(key, "must not be empty");
    } else if !well_formed {
        report.problem(
            key,
            format!(
                "expected a numeric Discord channel id like \"123456789012345678\", not \"{channel}\""
            ),
        );
    }
}
