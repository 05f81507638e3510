//! Table-driven tests of `parse`: each case is a file and the exact problems it must produce.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{parse, ConfigErrors, Settings, SourceSettings};

/// The smallest valid file; cases append to it or replace parts of it.
const BASE: &str = r#"
[brand]
name = "Acme"

[[sources]]
type = "replay"
name = "demo"
path = "mentions.jsonl"

[console]
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "TOKEN" => Some("token-from-env".to_owned()),
        "HOST" => Some("mastodon.example".to_owned()),
        _ => None,
    }
}

fn run(input: &str) -> Result<Settings, ConfigErrors> {
    parse(input, &env, Path::new("/etc/mentiondesk"))
}

/// Parses `input` and asserts the exact problems, as `key: message` lines; none means valid.
fn check(input: &str, expected: &[&str]) {
    let actual: Vec<String> = match run(input) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.problems.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(actual, expected, "problems for input:\n{input}");
}

fn parse_ok(input: &str) -> Settings {
    run(input).unwrap_or_else(|errors| panic!("unexpected problems:\n{errors}"))
}

fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

#[test]
fn valid_files() {
    check(BASE, &[]);
    check(
        &with(
            r#"
[[sources]]
type = "mastodon"
name = "m"
base_url = "https://${HOST}"
access_token = "${TOKEN}"

[[sources]]
type = "bluesky"
name = "b"
identifier = "acme.bsky.social"
app_password = "pw"

[[sources]]
type = "x"
name = "x"
user_id = "42"
bearer_token = "a"
consumer_key = "b"
consumer_secret = "c"
access_token = "d"
access_token_secret = "e"

[slack]
bot_token = "xoxb"
app_token = "xapp"
channel = "C0123456789"

[discord]
bot_token = "d"
channel = "123456789012345678"

[[escalations]]
id = "billing"
label = "Billing"
slack_channel = "G0BILLING"
discord_channel = "234567890123456789"
webhook = { url = "http://127.0.0.1:9/hook", secret = "s" }
"#,
        ),
        &[],
    );
}

#[test]
fn structural_problems() {
    check(
        "",
        &[
            "brand: missing",
            "sources: missing: at least one [[sources]] table is required",
            "console: no chat configured: add a [console], [slack] or [discord] section",
        ],
    );
    check(
        "[brand",
        &["line 1, column 7: invalid TOML: invalid table header; expected `.`, `]`"],
    );
    check(
        "a = 1\nb = \n",
        &["line 2, column 5: invalid TOML: invalid string; expected `\"`, `'`"],
    );
    check(
        "a = 1\nb = ",
        &["line 2, column 5: invalid TOML: unexpected end of file"],
    );
    check(
        "x = \"é\n",
        &["line 1, column 7: invalid TOML: invalid basic string"],
    );
    check(&format!("colour = 1\n{BASE}"), &["colour: unknown key"]);
    check(&with("colour = 1"), &["console.colour: unknown key"]);
    check(&with("[chat]"), &["chat: unknown key"]);
    check(
        &BASE.replace(
            "name = \"Acme\"",
            "name = \"Acme\"\ncolour = \"red\"\nlogo = 1",
        ),
        &["brand.colour: unknown key", "brand.logo: unknown key"],
    );
    check(
        &format!("store = 5\n{BASE}"),
        &["store: expected a table ([store])"],
    );
    check(
        r#"
[brand]
name = "Acme"
[sources]
type = "replay"
[console]
"#,
        &["sources: expected an array of tables ([[sources]])"],
    );
    check(
        "sources = []\n[brand]\nname = \"Acme\"\n[console]",
        &["sources: at least one [[sources]] table is required"],
    );
}

#[test]
fn type_problems() {
    check(
        &with("[http]\nlisten = \"nope\""),
        &["http.listen: invalid socket address syntax"],
    );
    check(
        &with("[runtime]\nshutdown_timeout = \"soon\""),
        &["runtime.shutdown_timeout: invalid duration \"soon\" (expected number at 0): write it like \"30s\", \"15m\" or \"1h\""],
    );
    check(
        &with("[runtime]\nshutdown_timeout = 10"),
        &["runtime.shutdown_timeout: invalid type: integer `10`, expected a string"],
    );
    check(
        &BASE.replace(
            "name = \"Acme\"",
            "name = \"Acme\"\nkeywords = [\"acme\", 7]",
        ),
        &["brand.keywords[1]: invalid type: integer `7`, expected a string"],
    );
    check(
        &BASE.replace("name = \"Acme\"", "name = 5"),
        &["brand.name: invalid type: integer `5`, expected a string"],
    );
    // Two mistakes in one table are both reported, and the missing key too.
    check(
        &BASE.replace(
            "path = \"mentions.jsonl\"",
            "pace = \"yes\"\npoll_interval = \"fast\"\nspeed = 2",
        ),
        &[
            "sources[0].pace: invalid type: string \"yes\", expected a boolean",
            "sources[0].poll_interval: invalid duration \"fast\" (expected number at 0): write it like \"30s\", \"15m\" or \"1h\"",
            "sources[0].speed: unknown key",
            "sources[0].path: missing",
        ],
    );
    check(
        &with("[[escalations]]\nid = \"a\"\nlabel = \"A\"\nwebhook = { url = \"http://h\", colour = 1 }"),
        &[
            "escalations[0].webhook.colour: unknown key",
            "escalations[0].webhook.secret: missing",
        ],
    );
    check(
        &with("[[escalations]]\nid = \"a\"\nlabel = \"A\"\nwebhook = \"http://h\""),
        &["escalations[0].webhook: invalid type: string \"http://h\", expected a table"],
    );
    check(
        &with("[[escalations]]\nlabel = \"A\"\n[[escalations]]\nid = \"b\"\n"),
        &[
            "escalations[0].id: missing",
            "escalations[1].label: missing",
        ],
    );
}

#[test]
fn source_problems() {
    let source = |body: &str| format!("[brand]\nname = \"Acme\"\n[console]\n[[sources]]\n{body}");
    check(&source("name = \"a\""), &["sources[0].type: missing"]);
    check(
        &source("type = \"irc\"\nname = \"a\""),
        &["sources[0].type: unknown source type \"irc\", expected one of replay, mastodon, bluesky, x"],
    );
    check(
        &source("type = 1\nname = \"a\""),
        &["sources[0].type: expected a string, found integer"],
    );
    check(
        &source("type = \"mastodon\"\nname = \"m\"\nbase_url = \"mastodon.social\"\naccess_token = \"t\""),
        &["sources[0].base_url: invalid URL \"mastodon.social\": relative URL without a base"],
    );
    check(
        &source("type = \"bluesky\"\nname = \"b\"\nbase_url = \"ftp://bsky.social\"\nidentifier = \"\"\napp_password = \"\""),
        &[
            "sources[0].base_url: expected an http or https URL, not a \"ftp\" one",
            "sources[0].identifier: must not be empty",
            "sources[0].app_password: must not be empty",
        ],
    );
    check(
        &source("type = \"x\"\nname = \"x\"\nuser_id = \"@acme\"\nbearer_token = \"a\"\nconsumer_key = \"b\"\nconsumer_secret = \"c\"\naccess_token = \"d\"\naccess_token_secret = \"e\"\npoll_interval = \"0s\""),
        &[
            "sources[0].poll_interval: must be longer than zero",
            "sources[0].user_id: expected the account's numeric id, not \"@acme\"",
        ],
    );
    check(
        &with("[[sources]]\ntype = \"replay\"\nname = \"demo\"\npath = \"b\"\n[[sources]]\ntype = \"replay\"\nname = \" \"\npath = \"\""),
        &[
            "sources[1].name: duplicate source name \"demo\"",
            "sources[2].name: must not be empty",
            "sources[2].path: must not be empty",
        ],
    );
    // A duplicate is found even when the first source with that name is broken.
    check(
        &with("[[sources]]\ntype = \"irc\"\nname = \"demo\"\n[[escalations]]\nid = \"a\"\n[[escalations]]\nid = \"a\"\nlabel = \"A\""),
        &[
            "sources[1].type: unknown source type \"irc\", expected one of replay, mastodon, bluesky, x",
            "sources[1].name: duplicate source name \"demo\"",
            "escalations[0].label: missing",
            "escalations[1].id: duplicate escalation id \"a\"",
        ],
    );
}

#[test]
fn chat_problems() {
    let chat = |body: &str| {
        format!("[brand]\nname = \"Acme\"\n[[sources]]\ntype = \"replay\"\nname = \"d\"\npath = \"p\"\n{body}")
    };
    check(
        &chat("[console]\nlisten = \"0.0.0.0:8687\""),
        &["console.auth_token: required because console.listen (0.0.0.0:8687) is not a loopback address"],
    );
    check(
        &chat("[console]\nlisten = \"0.0.0.0:8687\"\nauth_token = \"t\""),
        &[],
    );
    check(&chat("[console]\nlisten = \"[::1]:8687\""), &[]);
    check(
        &chat("[slack]\nbot_token = \"b\"\napp_token = \"a\"\nchannel = \"#support\"\nops_channel = \"c0lower\""),
        &[
            "slack.channel: expected a Slack channel id like \"C0123456789\", not \"#support\"",
            "slack.ops_channel: expected a Slack channel id like \"C0123456789\", not \"c0lower\"",
        ],
    );
    check(
        &chat("[slack]\nbot_token = \"b\"\nchannel = \"\"\nbase_url = \"slack\""),
        &[
            "slack.app_token: missing: Socket Mode needs an app-level token (xapp-...), or set slack.signing_secret for HTTP mode",
            "slack.base_url: invalid URL \"slack\": relative URL without a base",
            "slack.channel: must not be empty",
        ],
    );
    check(
        &chat("[slack]\nbot_token = \"b\"\nsigning_secret = \"s\"\nchannel = \"C1234ABCD\""),
        &[],
    );
    check(
        &chat("[discord]\nbot_token = \"b\"\nchannel = \"general\"\nops_channel = \"99999999999999999999999\""),
        &[
            "discord.channel: expected a numeric Discord channel id like \"123456789012345678\", not \"general\"",
            "discord.ops_channel: expected a numeric Discord channel id like \"123456789012345678\", not \"99999999999999999999999\"",
        ],
    );
    check(
        &chat("[discord]\nbot_token = \"b\"\nchannel = \"123456789012345678\""),
        &[],
    );
    // A broken chat section still counts as a chat, so it is not blamed twice.
    check(
        &chat("[discord]\nchannel = \"1\""),
        &["discord.bot_token: missing"],
    );
}

#[test]
fn escalation_problems() {
    let without_console = BASE.replace("[console]", "");
    let slack = "[slack]\nbot_token = \"b\"\napp_token = \"a\"\nchannel = \"C0123456789\"\n";
    check(
        &format!("{without_console}\n{slack}\n[[escalations]]\nid = \"billing\"\nlabel = \"Billing\""),
        &["escalations[0]: escalation \"billing\" has no destination: set slack_channel, discord_channel or webhook, or enable [console]"],
    );
    check(
        &with("[[escalations]]\nid = \"billing\"\nlabel = \"Billing\""),
        &[],
    );
    check(
        &with("[[escalations]]\nid = \"a\"\nlabel = \"A\"\nslack_channel = \"C0123456789\"\ndiscord_channel = \"1\""),
        &[
            "escalations[0].slack_channel: set, but there is no [slack] section",
            "escalations[0].discord_channel: set, but there is no [discord] section",
        ],
    );
    check(
        &format!(
            "{BASE}\n{slack}\n[[escalations]]\nid = \"a\"\nlabel = \"A\"\nslack_channel = \"billing\"\n\
             [[escalations]]\nid = \"a\"\nlabel = \"\"\nwebhook = {{ url = \"ftp://x\", secret = \"\" }}\n\
             [[escalations]]\nid = \"\"\nlabel = \"C\"\nmention = \"\""
        ),
        &[
            "escalations[0].slack_channel: expected a Slack channel id like \"C0123456789\", not \"billing\"",
            "escalations[1].id: duplicate escalation id \"a\"",
            "escalations[1].label: must not be empty",
            "escalations[1].webhook.url: expected an http or https URL, not a \"ftp\" one",
            "escalations[1].webhook.secret: must not be empty",
            "escalations[2].id: must not be empty",
            "escalations[2].mention: must not be empty",
        ],
    );
    check(
        &format!("escalations = [1]\n{BASE}"),
        &["escalations[0]: expected a table"],
    );
}

#[test]
fn triage_and_other_problems() {
    check(
        &with("[triage]\ncard_labels = [\"complaint\", \"spam\"]\nmin_score = 1.5\nexclude_keywords = [\"\"]"),
        &[
            "triage.card_labels[1]: unknown label \"spam\", expected one of complaint, question, praise, other",
            "triage.exclude_keywords[0]: must not be empty",
            "triage.min_score: must be between 0 and 1, not 1.5",
        ],
    );
    check(
        &with("[triage]\ncard_labels = []\nmin_score = nan"),
        &[
            "triage.card_labels: must list at least one label, or no post would ever become a card",
            "triage.min_score: must be between 0 and 1, not NaN",
        ],
    );
    check(&with("[triage]\nmin_score = 1"), &[]);
    check(&with("[triage]\nretrain_after = 0"), &[]);
    check(
        &with("[triage]\nretrain_after = 5000000"),
        &["triage.retrain_after: must be at most 1000000 (0 turns automatic retraining off), not 5000000"],
    );
    check(
        &with("[triage]\ninclude_patterns = [\"order #\\\\d+\", \"(oops\"]\nexclude_patterns = [\"\"]\nlanguages = [\"en\", \"pt-BR\", \"english\"]\nmin_labels = 0"),
        &[
            "triage.include_patterns[1]: invalid regex: unclosed group",
            "triage.exclude_patterns[0]: must not be empty",
            "triage.languages[2]: \"english\" is not a language code such as \"en\" or \"pt-BR\"",
            "triage.min_labels: must be at least 2 (a model needs a complaint and a non-complaint), not 0",
        ],
    );
    check(
        &with("[replies.signatures]\n\"Ann Bee\" = \"\"\nbob = 3"),
        &["replies.signatures.bob: invalid type: integer `3`, expected a string"],
    );
    check(
        &with("[replies.signatures]\n\"Ann Bee\" = \"\""),
        &["replies.signatures.\"Ann Bee\": must not be empty"],
    );
    check(
        &with("[runtime]\nshutdown_timeout = \"0s\""),
        &["runtime.shutdown_timeout: must be longer than zero"],
    );
}

#[test]
fn saved_replies_are_validated_each_problem_with_its_key() {
    let settings = parse_ok(&with(
        "[replies]\nrepeat_warning_after = 0\n[[replies.saved]]\nname = \"Sorry\"\ntext = \"{handle} sorry! {agent}\"",
    ));
    assert_eq!(settings.replies.repeat_warning_after, 0);
    assert_eq!(settings.replies.saved[0].name, "Sorry");
    assert_eq!(
        parse_ok(BASE).replies.repeat_warning_after,
        crate::config::DEFAULT_REPEAT_WARNING_AFTER
    );
    let long = "n".repeat(76);
    check(
        &with(&format!(
            "[[replies.saved]]\nname = \"Sorry\"\ntext = \"{{handle}} hi {{order}} {{name}}\"\n\
             [[replies.saved]]\nname = \"Sorry\"\ntext = \"ok\"\n\
             [[replies.saved]]\nname = \" \"\ntext = \"\"\n\
             [[replies.saved]]\nname = \"{long}\"\ntext = \"ok\"\n\
             [[replies.saved]]\nname = \"x\"\ntext = \"ok\"\ncolour = 1"
        )),
        &["replies.saved[4].colour: unknown key"],
    );
    check(
        &with(&format!(
            "[[replies.saved]]\nname = \"Sorry\"\ntext = \"{{handle}} hi {{order}} {{name}}\"\n\
             [[replies.saved]]\nname = \"Sorry\"\ntext = \"ok\"\n\
             [[replies.saved]]\nname = \" \"\ntext = \"\"\n\
             [[replies.saved]]\nname = \"{long}\"\ntext = \"ok\""
        )),
        &[
            "replies.saved[0].text: unknown placeholder {order}: use {handle} or {agent}",
            "replies.saved[0].text: unknown placeholder {name}: use {handle} or {agent}",
            "replies.saved[1].name: \"Sorry\" is used by an earlier saved reply: names must be unique",
            "replies.saved[2].name: must not be empty",
            "replies.saved[2].text: must not be empty",
            "replies.saved[3].name: must be at most 75 characters (the pickers show it)",
        ],
    );
}

#[test]
fn approval_mode_needs_approvers() {
    check(
        &with("[replies]\nrequire_approval = true"),
        &["replies.require_approval: needs [permissions].approve: the people or groups who approve reply drafts"],
    );
    let permissions = "[permissions]\nreply = [\"*\"]\nescalate = [\"*\"]\nresolve = [\"*\"]\n";
    check(
        &with(&format!("[replies]\nrequire_approval = true\n{permissions}approve = [\"slack-group:S0LEADS\", \"nobody\"]")),
        &["permissions.approve[1]: invalid principal \"nobody\": expected \"*\", \"<chat>:*\", \"console:NAME\", \"slack:U…\", \"slack-group:S…\", \"discord:ID\" or \"discord-role:ID\""],
    );
    let settings = parse_ok(&with(&format!(
        "[replies]\nrequire_approval = true\n{permissions}approve = [\"console:lee\"]"
    )));
    assert!(settings.replies.require_approval);
    assert!(settings.permissions.unwrap().permissions().allows(
        crate::domain::Permission::Approve,
        &crate::domain::Agent::new("console:Lee", "Lee")
    ));
}

#[test]
fn sla_problems_name_their_keys() {
    let valid = parse_ok(&with(
        r#"
[[escalations]]
id = "oncall"
label = "On-call"

[sla]
next_response = "2h"
on_call = "oncall"

[sla.business_hours]
timezone = "Europe/Berlin"
days = ["mon", "tue", "wed", "thu", "fri"]
opens = "08:30"
closes = "17:30"
holidays = ["2026-12-25"]

[[sla.routes]]
network = "x"
label = "complaint"
first_response = "15m"

[customers]
repeat_within = "3d"
"#,
    ));
    assert_eq!(valid.sla.next_response, Duration::from_secs(2 * 3600));
    assert_eq!(
        valid.sla.routes[0].first_response,
        Some(Duration::from_secs(900))
    );
    assert_eq!(valid.sla.routes[0].next_response, None);
    assert_eq!(
        valid.customers.repeat_within,
        Duration::from_secs(3 * 86400)
    );
    let defaults = parse_ok(BASE);
    assert_eq!(defaults.sla.business_hours, None);
    assert_eq!(
        defaults.customers.repeat_within,
        Duration::from_secs(7 * 86400)
    );

    check(
        &with(
            r#"
[sla]
next_response = "0s"
on_call = "pager"

[sla.business_hours]
timezone = "Mars/Olympus"
days = ["mon", "funday"]
opens = "18:00"
closes = "9:00"
holidays = ["2026-02-30"]

[[sla.routes]]
first_response = "10m"

[[sla.routes]]
network = "myspace"
source = "nowhere"
label = "spam"
"#,
        ),
        &[
            "sla.next_response: must be longer than zero",
            "sla.on_call: \"pager\" is not the id of an [[escalations]] target",
            "sla.business_hours.timezone: unknown time zone \"Mars/Olympus\" (failed to find time zone `Mars/Olympus` in time zone database): use an IANA name like \"Europe/Berlin\"",
            "sla.business_hours.days[1]: unknown day \"funday\", expected one of mon, tue, wed, thu, fri, sat, sun",
            "sla.business_hours.closes: must be after opens (18:00), not \"9:00\"",
            "sla.business_hours.holidays[0]: expected a date like \"2026-12-25\", not \"2026-02-30\"",
            "sla.routes[0]: matches every case: set network, source or label (or change [sla] itself)",
            "sla.routes[1]: sets no target: set first_response or next_response",
            "sla.routes[1].network: unknown network \"myspace\", expected bluesky, mastodon or x",
            "sla.routes[1].source: \"nowhere\" is not the name of a [[sources]] table",
            "sla.routes[1].label: unknown label \"spam\", expected one of complaint, question, praise, other",
        ],
    );
    check(
        &with("[sla.business_hours]\ntimezone = \"UTC\"\ndays = []\nopens = \"9\""),
        &[
            "sla.business_hours.days: must list at least one working day, or no deadline would ever come",
            "sla.business_hours.opens: expected a time like \"09:00\", not \"9\"",
        ],
    );
}

#[test]
fn storm_and_spike_problems() {
    check(
        &with("[triage.storm]\nthreshold = 0\nwindow = \"0s\"\nmin_members = 1\n[triage.spike]\nkeywords = [\"outage\", \"\"]\nbucket = \"1s\"\nfactor = 1\nmin_count = 0\nsmoothing = 1.5"),
        &[
            "triage.storm.threshold: must be above 0 and at most 1, not 0",
            "triage.storm.window: must be longer than zero",
            "triage.storm.min_members: must be at least 2 (an incident has several posts), not 1",
            "triage.spike.keywords[1]: must not be empty",
            "triage.spike.bucket: must be at least 10s, not 1s",
            "triage.spike.factor: must be above 1 (a multiple of the usual volume), not 1",
            "triage.spike.min_count: must be at least 1",
            "triage.spike.smoothing: must be above 0 and at most 1, not 1.5",
        ],
    );
    check(
        &with("[triage.storm]\nthreshold = 1\nwindow = \"10m\"\nmin_members = 3\n[triage.spike]\nkeywords = [\"outage\"]\nbucket = \"1m\""),
        &[],
    );
    check(
        &with("[triage.storm]\nthreshhold = 0.5"),
        &["triage.storm.threshhold: unknown key"],
    );
}

#[test]
fn environment_problems() {
    check(
        &with("[slack]\nbot_token = \"${SLACK_BOT_TOKEN}\"\napp_token = \"${TOKEN}\"\nchannel = \"${SLACK_CHANNEL}\""),
        &[
            "slack.bot_token: environment variable SLACK_BOT_TOKEN is not set",
            "slack.channel: environment variable SLACK_CHANNEL is not set",
        ],
    );
    check(
        &with("[http]\nlisten = \"${ADDR}\""),
        &["http.listen: environment variable ADDR is not set"],
    );
    check(
        &BASE.replace(
            "name = \"Acme\"",
            "name = \"Acme\"\nkeywords = [\"a\", \"${GONE\"]",
        ),
        &["brand.keywords[1]: unterminated \"${\" (write \"$${\" for a literal \"${\")"],
    );
}

#[test]
fn defaults_and_resolved_paths() {
    let settings = parse_ok(&with(
        "[[sources]]\ntype = \"bluesky\"\nname = \"b\"\nidentifier = \"i\"\napp_password = \"p\"\n\
         [[sources]]\ntype = \"x\"\nname = \"x\"\nuser_id = \"1\"\nbearer_token = \"a\"\nconsumer_key = \"b\"\n\
         consumer_secret = \"c\"\naccess_token = \"d\"\naccess_token_secret = \"e\"",
    ));
    assert_eq!(
        settings.store.path,
        PathBuf::from("/etc/mentiondesk/mentiondesk-data")
    );
    assert_eq!(settings.http.listen.to_string(), "127.0.0.1:8686");
    assert_eq!(
        settings
            .console
            .as_ref()
            .map(|console| console.listen.to_string()),
        Some("127.0.0.1:8687".to_owned())
    );
    assert!(settings.slack.is_none() && settings.discord.is_none());
    assert_eq!(settings.triage.card_labels, ["complaint"]);
    assert_eq!(settings.triage.min_score, 0.5);
    assert!(settings.replies.require_pii_confirmation);
    assert_eq!(settings.runtime.shutdown_timeout, Duration::from_secs(10));
    match settings.source("demo") {
        Some(SourceSettings::Replay(replay)) => {
            assert_eq!(
                replay.path,
                PathBuf::from("/etc/mentiondesk/mentions.jsonl")
            );
            assert_eq!(replay.sent_path, None);
            assert!(replay.pace);
            assert_eq!(replay.poll_interval, Duration::from_secs(1));
        }
        other => panic!("expected the replay source, got {other:?}"),
    }
    match settings.source("b") {
        Some(SourceSettings::Bluesky(bluesky)) => {
            assert_eq!(bluesky.base_url, "https://bsky.social");
            assert_eq!(bluesky.poll_interval, Duration::from_secs(30));
            assert_eq!(bluesky.backfill, Duration::from_secs(3600));
        }
        other => panic!("expected the bluesky source, got {other:?}"),
    }
    match settings.source("x") {
        Some(SourceSettings::X(x)) => {
            assert_eq!(x.base_url, "https://api.x.com");
            assert_eq!(x.poll_interval, Duration::from_secs(60));
            assert_eq!(
                (x.monthly_read_budget, x.monthly_write_budget),
                (10_000, 500)
            );
        }
        other => panic!("expected the x source, got {other:?}"),
    }
    let networks: Vec<&str> = settings
        .sources
        .iter()
        .map(SourceSettings::network)
        .collect();
    assert_eq!(networks, ["replay", "bluesky", "x"]);
    assert!(settings.source("nope").is_none());
}

#[test]
fn absolute_and_dotted_paths() {
    let settings = parse_ok(&BASE.replace(
        "path = \"mentions.jsonl\"",
        "path = \"/data/in.jsonl\"\nsent_path = \"./out/../sent.jsonl\"",
    ));
    match settings.source("demo") {
        Some(SourceSettings::Replay(replay)) => {
            assert_eq!(replay.path, PathBuf::from("/data/in.jsonl"));
            assert_eq!(
                replay.sent_path,
                Some(PathBuf::from("/etc/mentiondesk/out/../sent.jsonl"))
            );
        }
        other => panic!("expected the replay source, got {other:?}"),
    }
}

#[test]
fn escalation_lookup_and_durations() {
    let settings = parse_ok(&with(
        "[[escalations]]\nid = \"billing\"\nlabel = \"Billing team\"\nmention = \"@billing\"\n\
         [runtime]\nshutdown_timeout = \"1m 30s\"",
    ));
    let billing = settings.escalation("billing").expect("billing target");
    assert_eq!(billing.label, "Billing team");
    assert_eq!(billing.mention.as_deref(), Some("@billing"));
    assert!(settings.escalation("oncall").is_none());
    assert_eq!(settings.runtime.shutdown_timeout, Duration::from_secs(90));
}

#[test]
fn serde_derive_matches_the_piecewise_reader() {
    // Other code may deserialize `Settings` directly; the derive must accept the same file.
    let settings: Settings = toml::from_str(BASE).expect("derive accepts the base file");
    assert_eq!(settings.sources[0].name(), "demo");
    assert!(toml::from_str::<Settings>(&format!("colour = 1\n{BASE}")).is_err());
}

#[test]
fn digest_settings_default_off_and_problems_name_their_keys() {
    let off = parse_ok(&with(""));
    assert!(!off.digest.enabled);
    let on = parse_ok(&with("[digest]\n"));
    assert!(on.digest.enabled, "a [digest] table turns it on");
    assert_eq!(
        (on.digest.weekday.as_str(), on.digest.time.as_str()),
        ("mon", "09:00")
    );
    assert_eq!(on.digest.console_channel, "digest");
    check(
        &with(
            r#"
[digest]
weekday = "funday"
time = "25:00"
timezone = "Mars/Olympus"
slack_channel = "general"
discord_channel = "abc"
console_channel = " "
"#,
        ),
        &[
            r#"digest.weekday: unknown day "funday", expected one of mon, tue, wed, thu, fri, sat, sun"#,
            r#"digest.time: expected a time like "09:00", not "25:00""#,
            r#"digest.timezone: unknown time zone "Mars/Olympus" (failed to find time zone `Mars/Olympus` in time zone database): use an IANA name like "Europe/Berlin""#,
            r#"digest.slack_channel: expected a Slack channel id like "C0123456789", not "general""#,
            r#"digest.discord_channel: expected a numeric Discord channel id like "123456789012345678", not "abc""#,
            "digest.console_channel: must not be empty",
        ],
    );
}
