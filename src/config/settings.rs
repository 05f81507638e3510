//! The typed settings tree: one struct per subsystem, with the defaults the example file documents.
//!
//! These types only describe the shape of the file. Reading, `${VAR}` interpolation and the
//! cross-field checks live in the sibling modules, so nothing here does IO.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;

/// Default location of the embedded store, relative to the configuration file.
pub const DEFAULT_STORE_PATH: &str = "./mentiondesk-data";
/// Default address of the health endpoint.
pub const DEFAULT_HTTP_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8686);
/// Default address of the local console web page.
pub const DEFAULT_CONSOLE_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8687);
/// Default Bluesky PDS.
pub const DEFAULT_BLUESKY_BASE_URL: &str = "https://bsky.social";
/// Default Bluesky web app, used for links people open.
pub const DEFAULT_BLUESKY_WEB_URL: &str = "https://bsky.app";
/// Default X API host.
pub const DEFAULT_X_BASE_URL: &str = "https://api.x.com";
/// Default Slack Web API root.
pub const DEFAULT_SLACK_BASE_URL: &str = "https://slack.com/api";
/// Default Discord host; the REST API and gateway discovery live below it.
pub const DEFAULT_DISCORD_BASE_URL: &str = "https://discord.com";
/// Default interval between two reads of a replay file.
pub const DEFAULT_REPLAY_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Default polling interval for Mastodon and Bluesky.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// Default polling interval for X, slower because every read is paid for.
pub const DEFAULT_X_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Default look-back window on a source's first start.
pub const DEFAULT_BACKFILL: Duration = Duration::from_secs(60 * 60);
/// Default time one request to a network may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Default monthly number of X read requests.
pub const DEFAULT_X_MONTHLY_READ_BUDGET: u64 = 10_000;
/// Default monthly number of X posts.
pub const DEFAULT_X_MONTHLY_WRITE_BUDGET: u64 = 500;
/// Default share of the X read budget at which the ops channel is told.
pub const DEFAULT_X_BUDGET_NOTICE_AT: f64 = 0.8;
/// Default triage labels that open a card.
pub const DEFAULT_CARD_LABELS: &[&str] = &["complaint"];
/// Every triage label the classifier can produce.
pub const TRIAGE_LABELS: &[&str] = &["complaint", "question", "praise", "other"];
/// Default minimum classifier score for a card.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;
/// Default number of examples the learned triage model needs before it replaces the default.
pub const DEFAULT_MIN_LABELS: u64 = 200;
/// Default time allowed for draining work on shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default first-response target.
pub const DEFAULT_FIRST_RESPONSE: Duration = Duration::from_secs(60 * 60);
/// Default time a source or chat lane must fail without a break before the ops channel hears.
pub const DEFAULT_HEALTH_NOTICE_AFTER: Duration = Duration::from_secs(5 * 60);
/// Default share of the first-response target after which the warning is threaded.
pub const DEFAULT_SLA_WARNING_AT: f32 = 0.75;
/// Default next-response target (after the customer writes again).
pub const DEFAULT_NEXT_RESPONSE: Duration = Duration::from_secs(60 * 60);
/// Default working days of `[sla.business_hours]`.
pub const DEFAULT_BUSINESS_DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri"];
/// Every weekday name `[sla.business_hours].days` accepts, Monday first.
pub const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Default opening time of `[sla.business_hours]`.
pub const DEFAULT_OPENS: &str = "09:00";
/// Default closing time of `[sla.business_hours]`.
pub const DEFAULT_CLOSES: &str = "17:00";
/// Default window in which a customer's second case is flagged as a repeat.
pub const DEFAULT_REPEAT_WITHIN: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded store keeps its files.
    #[serde(default)]
    pub store: StoreSettings,
    /// The health endpoint.
    #[serde(default)]
    pub http: HttpSettings,
    /// The brand whose mentions are watched.
    pub brand: BrandSettings,
    /// The networks mentions are read from, in file order.
    pub sources: Vec<SourceSettings>,
    /// The Slack workspace cards are posted to, if any.
    #[serde(default)]
    pub slack: Option<SlackSettings>,
    /// The Discord server cards are posted to, if any.
    #[serde(default)]
    pub discord: Option<DiscordSettings>,
    /// The local console web page, if enabled.
    #[serde(default)]
    pub console: Option<ConsoleSettings>,
    /// Where a case can be escalated to, in file order.
    #[serde(default)]
    pub escalations: Vec<EscalationTarget>,
    /// Rules deciding which posts become cards.
    #[serde(default)]
    pub triage: TriageSettings,
    /// Rules for public replies.
    #[serde(default)]
    pub replies: ReplySettings,
    /// Process-wide runtime knobs.
    #[serde(default)]
    pub runtime: RuntimeSettings,
    /// Response-time targets.
    #[serde(default)]
    pub sla: SlaSettings,
    /// Who may reply publicly, escalate and resolve; `None` (no section) lets everyone.
    #[serde(default)]
    pub permissions: Option<PermissionsSettings>,
    /// What cards say about the customer's other cases.
    #[serde(default)]
    pub customers: CustomerSettings,
    /// Whether cards show the customer's reach.
    #[serde(default)]
    pub fairness: FairnessSettings,
    /// The weekly digest; off without a `[digest]` section.
    #[serde(default)]
    pub digest: DigestSettings,
}

/// Default day of the weekly digest.
pub const DEFAULT_DIGEST_WEEKDAY: &str = "mon";
/// Default local time of the weekly digest.
pub const DEFAULT_DIGEST_TIME: &str = "09:00";
/// Default console channel of the weekly digest.
pub const DEFAULT_CONSOLE_DIGEST_CHANNEL: &str = "digest";

/// `[digest]`: the weekly digest (figures of the last 7 days and a chart) posted once a week.
/// A chat's channel is its `*_channel` here, else its ops channel (`[slack].ops_channel`,
/// `[discord].ops_channel`); a chat with neither gets none. The console always has one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSettings {
    /// Whether the digest is posted (on as soon as the section is there).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The day it is posted: `mon` … `sun`.
    #[serde(default = "default_digest_weekday")]
    pub weekday: String,
    /// The local time it is posted, "HH:MM".
    #[serde(default = "default_digest_time")]
    pub time: String,
    /// IANA time zone of `weekday`/`time` (default UTC); `[sla.business_hours].timezone` wins.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Slack channel id (default `[slack].ops_channel`).
    #[serde(default)]
    pub slack_channel: Option<String>,
    /// Discord channel id (default `[discord].ops_channel`).
    #[serde(default)]
    pub discord_channel: Option<String>,
    /// Console channel name.
    #[serde(default = "default_console_digest_channel")]
    pub console_channel: String,
}

impl Default for DigestSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            weekday: DEFAULT_DIGEST_WEEKDAY.to_string(),
            time: DEFAULT_DIGEST_TIME.to_string(),
            timezone: None,
            slack_channel: None,
            discord_channel: None,
            console_channel: DEFAULT_CONSOLE_DIGEST_CHANNEL.to_string(),
        }
    }
}

fn default_digest_weekday() -> String {
    DEFAULT_DIGEST_WEEKDAY.to_string()
}

fn default_digest_time() -> String {
    DEFAULT_DIGEST_TIME.to_string()
}

fn default_console_digest_channel() -> String {
    DEFAULT_CONSOLE_DIGEST_CHANNEL.to_string()
}

/// `[fairness]`: queues are ordered by waiting time, never by reach; follower counts stay off
/// cards unless `show_reach` (then as a coarse bucket).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairnessSettings {
    /// Show the customer's follower-count bucket on cards.
    #[serde(default)]
    pub show_reach: bool,
}

impl Settings {
    /// Returns the source with this name.
    pub fn source(&self, name: &str) -> Option<&SourceSettings> {
        self.sources.iter().find(|source| source.name() == name)
    }

    /// Returns the escalation target with this id.
    pub fn escalation(&self, id: &str) -> Option<&EscalationTarget> {
        self.escalations.iter().find(|target| target.id == id)
    }
}

/// `[store]`: the embedded database.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Directory of the store; a relative path is resolved against the configuration file's directory.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            path: default_store_path(),
        }
    }
}

/// `[http]`: the health endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address the health endpoint listens on.
    #[serde(default = "default_http_listen")]
    pub listen: SocketAddr,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_HTTP_LISTEN,
        }
    }
}

/// `[brand]`: who the bot works for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandSettings {
    /// Display name of the brand; required and non-empty.
    pub name: String,
    /// Words that make a post about the brand even without a mention.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The brand's own account handles; posts by these are the brand's own, not customers'.
    #[serde(default)]
    pub handles: Vec<String>,
}

/// One `[[sources]]` table, tagged by its `type` key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceSettings {
    /// `type = "replay"`: mentions read from a JSONL file.
    Replay(ReplaySource),
    /// `type = "mastodon"`: one Mastodon account on one instance.
    Mastodon(MastodonSource),
    /// `type = "bluesky"`: one Bluesky account.
    Bluesky(BlueskySource),
    /// `type = "x"`: one X account through the paid API.
    X(XSource),
}

impl SourceSettings {
    /// Every value the `type` key accepts, in documentation order.
    pub const TYPES: &'static [&'static str] = &["replay", "mastodon", "bluesky", "x"];

    /// The source's unique name from the file.
    pub fn name(&self) -> &str {
        match self {
            Self::Replay(source) => &source.name,
            Self::Mastodon(source) => &source.name,
            Self::Bluesky(source) => &source.name,
            Self::X(source) => &source.name,
        }
    }

    /// The network this source reads, as written in the `type` key.
    pub fn network(&self) -> &'static str {
        match self {
            Self::Replay(_) => "replay",
            Self::Mastodon(_) => "mastodon",
            Self::Bluesky(_) => "bluesky",
            Self::X(_) => "x",
        }
    }

    /// How long the source waits between two polls.
    pub fn poll_interval(&self) -> Duration {
        match self {
            Self::Replay(source) => source.poll_interval,
            Self::Mastodon(source) => source.poll_interval,
            Self::Bluesky(source) => source.poll_interval,
            Self::X(source) => source.poll_interval,
        }
    }
}

/// A source that replays mentions from a JSONL file, for demos and tests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaySource {
    /// Unique source name.
    pub name: String,
    /// JSONL file of mentions; a relative path is resolved against the configuration file's directory.
    pub path: PathBuf,
    /// JSONL file public replies are appended to; `None` lets the application pick one.
    #[serde(default)]
    pub sent_path: Option<PathBuf>,
    /// Whether mentions are released at the pace of their timestamps instead of all at once.
    #[serde(default = "default_true")]
    pub pace: bool,
    /// How often the file is checked for new lines.
    #[serde(default = "default_replay_poll_interval", with = "duration")]
    pub poll_interval: Duration,
}

/// A Mastodon account on one instance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonSource {
    /// Unique source name.
    pub name: String,
    /// The instance, for example `https://mastodon.social`.
    pub base_url: String,
    /// An access token of the brand's account with read and write scopes.
    pub access_token: Secret,
    /// How long to wait between two polls.
    #[serde(default = "default_poll_interval", with = "duration")]
    pub poll_interval: Duration,
    /// How far back to look on the first start.
    #[serde(default = "default_backfill", with = "duration")]
    pub backfill: Duration,
    /// How long one request to the instance may take before it counts as failed (and is
    /// retried; a reply is retried with the same idempotency key).
    #[serde(default = "default_request_timeout", with = "duration")]
    pub request_timeout: Duration,
    /// Whether mentions are also pushed over the streaming API (`user:notification`, SSE), with
    /// polling as the fallback while the stream is down.
    #[serde(default)]
    pub streaming: bool,
}

/// A Bluesky account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskySource {
    /// Unique source name.
    pub name: String,
    /// The account's PDS.
    #[serde(default = "default_bluesky_base_url")]
    pub base_url: String,
    /// The account's handle or DID.
    pub identifier: String,
    /// An app password of the account.
    pub app_password: Secret,
    /// How long to wait between two polls.
    #[serde(default = "default_poll_interval", with = "duration")]
    pub poll_interval: Duration,
    /// How far back to look on the first start.
    #[serde(default = "default_backfill", with = "duration")]
    pub backfill: Duration,
    /// The web app that links to posts point at (`<web_url>/profile/<handle>/post/<rkey>`).
    #[serde(default = "default_bluesky_web_url")]
    pub web_url: String,
    /// Words or phrases watched with `app.bsky.feed.searchPosts`, besides mentions.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The AppView that serves searches; `None` sends them through the PDS, which proxies
    /// them to its AppView with the session.
    #[serde(default)]
    pub appview_url: Option<String>,
}

/// An X account, read with a bearer token and written with OAuth 1.0a user context.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XSource {
    /// Unique source name.
    pub name: String,
    /// The API host.
    #[serde(default = "default_x_base_url")]
    pub base_url: String,
    /// Numeric id of the brand's account.
    pub user_id: String,
    /// App bearer token, used for reads.
    pub bearer_token: Secret,
    /// OAuth 1.0a consumer key.
    pub consumer_key: Secret,
    /// OAuth 1.0a consumer secret.
    pub consumer_secret: Secret,
    /// OAuth 1.0a access token of the brand's account.
    pub access_token: Secret,
    /// OAuth 1.0a access token secret of the brand's account.
    pub access_token_secret: Secret,
    /// How long to wait between two polls.
    #[serde(default = "default_x_poll_interval", with = "duration")]
    pub poll_interval: Duration,
    /// How far back to look on the first start.
    #[serde(default = "default_backfill", with = "duration")]
    pub backfill: Duration,
    /// Tweets that may be read per calendar month (UTC); polling slows at 80 % and stops at 100 %.
    #[serde(default = "default_x_monthly_read_budget")]
    pub monthly_read_budget: u64,
    /// Posts that may be written per calendar month (UTC); replies past it are refused.
    #[serde(default = "default_x_monthly_write_budget")]
    pub monthly_write_budget: u64,
    /// The share of `monthly_read_budget` (0 < x < 1) at which one notice goes to the ops
    /// channel; a second one follows when the budget is spent.
    #[serde(default = "default_x_budget_notice_at")]
    pub budget_notice_at: f64,
    /// Words or phrases watched with recent search (`GET /2/tweets/search/recent`), besides
    /// mentions; every tweet read counts against the budget.
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// `[slack]`: the Slack workspace.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// Bot token (`xoxb-…`).
    pub bot_token: Secret,
    /// App-level token (`xapp-…`) for Socket Mode.
    #[serde(default)]
    pub app_token: Option<Secret>,
    /// Signing secret for HTTP mode.
    #[serde(default)]
    pub signing_secret: Option<Secret>,
    /// Web API root.
    #[serde(default = "default_slack_base_url")]
    pub base_url: String,
    /// Channel id (`C…` or `G…`) cards are posted to.
    pub channel: String,
    /// Channel id for operational alerts such as volume spikes.
    #[serde(default)]
    pub ops_channel: Option<String>,
    /// Channel id kudos cards (praise, with `[triage].kudos = true`) go to; none without it.
    #[serde(default)]
    pub kudos_channel: Option<String>,
}

/// `[discord]`: the Discord server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// Bot token.
    pub bot_token: Secret,
    /// Discord host.
    #[serde(default = "default_discord_base_url")]
    pub base_url: String,
    /// Numeric channel id cards are posted to.
    pub channel: String,
    /// Numeric channel id for operational alerts such as volume spikes.
    #[serde(default)]
    pub ops_channel: Option<String>,
    /// Numeric channel id kudos cards (praise, with `[triage].kudos = true`) go to; none
    /// without it.
    #[serde(default)]
    pub kudos_channel: Option<String>,
    /// Whether serenity's own rate limiter runs. Keep it on; serenity only sends requests to a
    /// `base_url` other than Discord's with it off, so turn it off only for a proxy that rate
    /// limits by itself (twilight-http-proxy) or a test fake.
    #[serde(default = "default_true")]
    pub ratelimiter: bool,
}

/// `[console]`: the local web page with cards, buttons and threads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Address the console listens on.
    #[serde(default = "default_console_listen")]
    pub listen: SocketAddr,
    /// Bearer token required by the console; mandatory off loopback.
    #[serde(default)]
    pub auth_token: Option<Secret>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_CONSOLE_LISTEN,
            auth_token: None,
        }
    }
}

/// One `[[escalations]]` table: a team or system a case can be handed to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationTarget {
    /// Unique id, carried in button payloads.
    pub id: String,
    /// Name shown to agents.
    pub label: String,
    /// Slack channel id receiving the escalation card.
    #[serde(default)]
    pub slack_channel: Option<String>,
    /// Discord channel id receiving the escalation card.
    #[serde(default)]
    pub discord_channel: Option<String>,
    /// User group or role mentioned on the escalation card.
    #[serde(default)]
    pub mention: Option<String>,
    /// Signed webhook called on escalation (ticketing, CRM, on-call).
    #[serde(default)]
    pub webhook: Option<Webhook>,
}

/// A signed outgoing webhook.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where the escalation is posted.
    pub url: String,
    /// Key used to sign each request.
    pub secret: Secret,
}

/// `[triage]`: which posts become cards.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageSettings {
    /// Labels that open a card: any of `complaint`, `question`, `praise`, `other`.
    #[serde(default = "default_card_labels")]
    pub card_labels: Vec<String>,
    /// Posts containing one of these words are always considered.
    #[serde(default)]
    pub include_keywords: Vec<String>,
    /// Posts containing one of these words are dropped.
    #[serde(default)]
    pub exclude_keywords: Vec<String>,
    /// Regexes (case-insensitive): a match pushes the post towards a complaint.
    #[serde(default)]
    pub include_patterns: Vec<String>,
    /// Regexes (case-insensitive): a match drops the post.
    #[serde(default)]
    pub exclude_patterns: Vec<String>,
    /// Authors whose posts are dropped, such as partner accounts and bots.
    #[serde(default)]
    pub ignore_authors: Vec<String>,
    /// Watched languages (ISO 639-1 codes such as `en`); other languages are labelled `other`.
    /// Empty watches every language.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Minimum classifier score, between 0 and 1, for a card.
    #[serde(default = "default_min_score")]
    pub min_score: f32,
    /// How many examples the learned model must have been trained on before it is used.
    #[serde(default = "default_min_labels")]
    pub min_labels: u64,
    /// The running bot retrains the learned model from the store's labels once this many new
    /// labels arrived since the saved model was trained (0: never automatically).
    #[serde(default = "default_retrain_after")]
    pub retrain_after: u64,
    /// `[triage.storm]`: near-identical complaints collapse into one incident card.
    #[serde(default)]
    pub storm: StormSettings,
    /// `[triage.spike]`: complaint volume spikes raise an alert in the ops channel.
    #[serde(default)]
    pub spike: SpikeSettings,
    /// Post praise as light "kudos" cards (with a "Mark as complaint" button) in each chat's
    /// kudos channel (console: "Kudos"; Slack and Discord: `kudos_channel`).
    #[serde(default)]
    pub kudos: bool,
}

impl Default for TriageSettings {
    fn default() -> Self {
        Self {
            card_labels: default_card_labels(),
            include_keywords: Vec::new(),
            exclude_keywords: Vec::new(),
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
            ignore_authors: Vec::new(),
            languages: Vec::new(),
            min_score: DEFAULT_MIN_SCORE,
            min_labels: DEFAULT_MIN_LABELS,
            retrain_after: DEFAULT_RETRAIN_AFTER,
            storm: StormSettings::default(),
            spike: SpikeSettings::default(),
            kudos: false,
        }
    }
}

/// Default similarity from which two complaints are near-identical (storm collapse).
pub const DEFAULT_STORM_THRESHOLD: f32 = 0.6;
/// Default time after its last similar post during which an incident still collects members.
pub const DEFAULT_STORM_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Default number of near-identical complaints that make an incident.
pub const DEFAULT_STORM_MIN_MEMBERS: u32 = 2;
/// Default length of one counting bucket of the spike detector.
pub const DEFAULT_SPIKE_BUCKET: Duration = Duration::from_secs(5 * 60);
/// Default ratio to the usual volume from which a bucket is a spike.
pub const DEFAULT_SPIKE_FACTOR: f32 = 3.0;
/// Default smallest bucket count that can be a spike.
pub const DEFAULT_SPIKE_MIN_COUNT: u32 = 10;
/// Default weight of the newest bucket in the usual volume (EWMA).
pub const DEFAULT_SPIKE_SMOOTHING: f32 = 0.2;
/// Default number of buckets counted before the first alert (the usual volume is unknown
/// before).
pub const DEFAULT_SPIKE_WARMUP: u32 = 3;
/// Default quiet time after an alert before the same topic can alert again.
pub const DEFAULT_SPIKE_COOLDOWN: Duration = Duration::from_secs(60 * 60);

/// `[triage.storm]`: near-identical complaints (retweets, copy-paste campaigns, an outage)
/// become one incident card with a counter instead of one card each.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StormSettings {
    /// Whether complaints collapse at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Estimated Jaccard similarity of the posts' character shingles, between 0 and 1, from
    /// which two complaints are near-identical.
    #[serde(default = "default_storm_threshold")]
    pub threshold: f32,
    /// How long after its last similar post an incident still collects members.
    #[serde(default = "default_storm_window", with = "duration")]
    pub window: Duration,
    /// How many near-identical complaints make an incident (at least 2): the ones before get
    /// their own cards.
    #[serde(default = "default_storm_min_members")]
    pub min_members: u32,
}

impl Default for StormSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: DEFAULT_STORM_THRESHOLD,
            window: DEFAULT_STORM_WINDOW,
            min_members: DEFAULT_STORM_MIN_MEMBERS,
        }
    }
}

/// `[triage.spike]`: complaint volume, overall and per keyword, against its usual level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeSettings {
    /// Whether spikes are announced in the ops channel.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Topics watched beside the overall complaint volume: a complaint counts for a keyword
    /// when its text contains it (case-insensitive).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Complaints are counted per bucket of this length.
    #[serde(default = "default_spike_bucket", with = "duration")]
    pub bucket: Duration,
    /// A bucket with at least `factor` times the usual volume (and `min_count`) is a spike.
    #[serde(default = "default_spike_factor")]
    pub factor: f32,
    /// The smallest bucket count that can be a spike.
    #[serde(default = "default_spike_min_count")]
    pub min_count: u32,
    /// Weight of the newest bucket in the usual volume (an EWMA), between 0 and 1.
    #[serde(default = "default_spike_smoothing")]
    pub smoothing: f32,
    /// Buckets counted before the first alert.
    #[serde(default = "default_spike_warmup")]
    pub warmup: u32,
    /// After an alert, the same topic stays quiet this long.
    #[serde(default = "default_spike_cooldown", with = "duration")]
    pub cooldown: Duration,
}

impl Default for SpikeSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            keywords: Vec::new(),
            bucket: DEFAULT_SPIKE_BUCKET,
            factor: DEFAULT_SPIKE_FACTOR,
            min_count: DEFAULT_SPIKE_MIN_COUNT,
            smoothing: DEFAULT_SPIKE_SMOOTHING,
            warmup: DEFAULT_SPIKE_WARMUP,
            cooldown: DEFAULT_SPIKE_COOLDOWN,
        }
    }
}

fn default_storm_threshold() -> f32 {
    DEFAULT_STORM_THRESHOLD
}

fn default_storm_window() -> Duration {
    DEFAULT_STORM_WINDOW
}

fn default_storm_min_members() -> u32 {
    DEFAULT_STORM_MIN_MEMBERS
}

fn default_spike_bucket() -> Duration {
    DEFAULT_SPIKE_BUCKET
}

fn default_spike_factor() -> f32 {
    DEFAULT_SPIKE_FACTOR
}

fn default_spike_min_count() -> u32 {
    DEFAULT_SPIKE_MIN_COUNT
}

fn default_spike_smoothing() -> f32 {
    DEFAULT_SPIKE_SMOOTHING
}

fn default_spike_warmup() -> u32 {
    DEFAULT_SPIKE_WARMUP
}

fn default_spike_cooldown() -> Duration {
    DEFAULT_SPIKE_COOLDOWN
}

/// `[replies]`: rules for public replies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplySettings {
    /// Agent name or id mapped to the signature appended to their replies, such as `^AB`.
    #[serde(default)]
    pub signatures: BTreeMap<String, String>,
    /// Whether a reply containing personal data is held until the agent confirms it.
    #[serde(default = "default_true")]
    pub require_pii_confirmation: bool,
    /// `[[replies.saved]]`: saved replies agents can pick in the reply form.
    #[serde(default)]
    pub saved: Vec<crate::domain::SavedReply>,
    /// Hold a reply whose text was already sent publicly this many times today until the
    /// agent confirms; 0 turns the warning off.
    #[serde(default = "default_repeat_warning_after")]
    pub repeat_warning_after: u32,
    /// Approval mode: a reply by someone not in `[permissions].approve` waits as a draft
    /// until an approver approves, edits or rejects it.
    #[serde(default)]
    pub require_approval: bool,
}

/// Default of `[replies].repeat_warning_after`.
pub const DEFAULT_REPEAT_WARNING_AFTER: u32 = 5;

fn default_repeat_warning_after() -> u32 {
    DEFAULT_REPEAT_WARNING_AFTER
}

impl Default for ReplySettings {
    fn default() -> Self {
        Self {
            signatures: BTreeMap::new(),
            require_pii_confirmation: true,
            saved: Vec::new(),
            repeat_warning_after: DEFAULT_REPEAT_WARNING_AFTER,
            require_approval: false,
        }
    }
}

/// `[permissions]`: who may act for the brand. Each key lists principals (`"*"`,
/// `"console:*"`, `"console:ana"`, `"slack:U0123ABCD"`, `"slack-group:S0123ABCD"`,
/// `"discord:123…"`, `"discord-role:123…"`); all three keys are required once the section
/// exists, so nothing is allowed or forbidden by an accident of omission.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsSettings {
    /// Who may post public replies.
    pub reply: Vec<String>,
    /// Who may escalate to a target.
    pub escalate: Vec<String>,
    /// Who may resolve, dismiss and reopen.
    pub resolve: Vec<String>,
    /// Who may approve, edit and reject reply drafts (`[replies].require_approval`).
    #[serde(default)]
    pub approve: Vec<String>,
}

impl PermissionsSettings {
    /// The lists as the actions engine checks them. Entries that don't parse (already
    /// reported by validation) are dropped, which only ever narrows who may act.
    pub fn permissions(&self) -> crate::domain::Permissions {
        let parse = |list: &[String]| {
            list.iter()
                .filter_map(|text| crate::domain::Principal::parse(text).ok())
                .collect()
        };
        crate::domain::Permissions::restricted(
            parse(&self.reply),
            parse(&self.escalate),
            parse(&self.resolve),
        )
        .with_approvers(parse(&self.approve))
    }
}

/// `[sla]`: the first-response clock on every new case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSettings {
    /// Whether cases get a first-response clock at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How soon after a case opens the brand should answer publicly.
    #[serde(default = "default_first_response", with = "duration")]
    pub first_response: Duration,
    /// The share of `first_response` after which a warning is threaded (0 < x < 1).
    #[serde(default = "default_sla_warning_at")]
    pub warning_at: f32,
    /// How soon the brand should answer again after the customer follows up on a case it
    /// already answered.
    #[serde(default = "default_next_response", with = "duration")]
    pub next_response: Duration,
    /// The escalation target (its `id`) a case is escalated to when a deadline passes, and that
    /// new complaints arriving outside business hours go to.
    #[serde(default)]
    pub on_call: Option<String>,
    /// When the team works; without it every hour counts.
    #[serde(default)]
    pub business_hours: Option<BusinessHoursSettings>,
    /// Targets for some cases, by network, source and triage label; the first match wins.
    #[serde(default)]
    pub routes: Vec<SlaRoute>,
}

impl Default for SlaSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            first_response: DEFAULT_FIRST_RESPONSE,
            warning_at: DEFAULT_SLA_WARNING_AT,
            next_response: DEFAULT_NEXT_RESPONSE,
            on_call: None,
            business_hours: None,
            routes: Vec::new(),
        }
    }
}

/// `[sla.business_hours]`: SLA clocks count only this time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursSettings {
    /// IANA time zone name ("Europe/Berlin"); hours and holidays are in it.
    pub timezone: String,
    /// Working days: `mon` … `sun`.
    #[serde(default = "default_business_days")]
    pub days: Vec<String>,
    /// Opening time, "HH:MM".
    #[serde(default = "default_opens")]
    pub opens: String,
    /// Closing time, "HH:MM", after `opens`.
    #[serde(default = "default_closes")]
    pub closes: String,
    /// Dates without work, "YYYY-MM-DD".
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// One `[[sla.routes]]` table: other targets for the cases it matches. A route matches a case
/// when every key it sets matches (network, the source's name, the opening post's triage
/// label); keys it leaves out match anything.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRoute {
    /// `bluesky`, `mastodon` or `x`.
    #[serde(default)]
    pub network: Option<String>,
    /// A `[[sources]]` name.
    #[serde(default)]
    pub source: Option<String>,
    /// A triage label (`complaint`, `question`, ...).
    #[serde(default)]
    pub label: Option<String>,
    /// The first-response target for these cases (default: `[sla].first_response`).
    #[serde(default, with = "optional_duration")]
    pub first_response: Option<Duration>,
    /// The next-response target for these cases (default: `[sla].next_response`).
    #[serde(default, with = "optional_duration")]
    pub next_response: Option<Duration>,
}

/// `[customers]`: the customer context on cards.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSettings {
    /// A case opened within this long after another by the same customer is flagged as a
    /// repeat on its card; "0s" turns the flag off.
    #[serde(default = "default_repeat_within", with = "duration")]
    pub repeat_within: Duration,
}

impl Default for CustomerSettings {
    fn default() -> Self {
        Self {
            repeat_within: DEFAULT_REPEAT_WITHIN,
        }
    }
}

/// `[runtime]`: process-wide knobs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSettings {
    /// How long shutdown waits for in-flight work before aborting it.
    #[serde(default = "default_shutdown_timeout", with = "duration")]
    pub shutdown_timeout: Duration,
    /// How long a source or chat lane fails without a break before one notice goes to the ops
    /// channel (console "ops", `[slack].ops_channel`); a recovery notice follows.
    #[serde(default = "default_health_notice_after", with = "duration")]
    pub health_notice_after: Duration,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            health_notice_after: DEFAULT_HEALTH_NOTICE_AFTER,
        }
    }
}

// Serde's `default = "…"` needs functions, so each constant above gets a one-line wrapper.

fn default_true() -> bool {
    true
}

fn default_first_response() -> Duration {
    DEFAULT_FIRST_RESPONSE
}

fn default_sla_warning_at() -> f32 {
    DEFAULT_SLA_WARNING_AT
}

fn default_next_response() -> Duration {
    DEFAULT_NEXT_RESPONSE
}

fn default_business_days() -> Vec<String> {
    DEFAULT_BUSINESS_DAYS
        .iter()
        .map(|&day| day.to_owned())
        .collect()
}

fn default_opens() -> String {
    DEFAULT_OPENS.to_owned()
}

fn default_closes() -> String {
    DEFAULT_CLOSES.to_owned()
}

fn default_repeat_within() -> Duration {
    DEFAULT_REPEAT_WITHIN
}

fn default_store_path() -> PathBuf {
    PathBuf::from(DEFAULT_STORE_PATH)
}

fn default_http_listen() -> SocketAddr {
    DEFAULT_HTTP_LISTEN
}

fn default_console_listen() -> SocketAddr {
    DEFAULT_CONSOLE_LISTEN
}

fn default_bluesky_base_url() -> String {
    DEFAULT_BLUESKY_BASE_URL.to_owned()
}

fn default_x_base_url() -> String {
    DEFAULT_X_BASE_URL.to_owned()
}

fn default_slack_base_url() -> String {
    DEFAULT_SLACK_BASE_URL.to_owned()
}

fn default_discord_base_url() -> String {
    DEFAULT_DISCORD_BASE_URL.to_owned()
}

fn default_replay_poll_interval() -> Duration {
    DEFAULT_REPLAY_POLL_INTERVAL
}

fn default_poll_interval() -> Duration {
    DEFAULT_POLL_INTERVAL
}

fn default_x_poll_interval() -> Duration {
    DEFAULT_X_POLL_INTERVAL
}

fn default_bluesky_web_url() -> String {
    DEFAULT_BLUESKY_WEB_URL.to_owned()
}

fn default_backfill() -> Duration {
    DEFAULT_BACKFILL
}

fn default_request_timeout() -> Duration {
    DEFAULT_REQUEST_TIMEOUT
}

fn default_x_monthly_read_budget() -> u64 {
    DEFAULT_X_MONTHLY_READ_BUDGET
}

fn default_x_monthly_write_budget() -> u64 {
    DEFAULT_X_MONTHLY_WRITE_BUDGET
}

fn default_x_budget_notice_at() -> f64 {
    DEFAULT_X_BUDGET_NOTICE_AT
}

fn default_card_labels() -> Vec<String> {
    DEFAULT_CARD_LABELS
        .iter()
        .map(|label| (*label).to_owned())
        .collect()
}

fn default_min_score() -> f32 {
    DEFAULT_MIN_SCORE
}

fn default_min_labels() -> u64 {
    DEFAULT_MIN_LABELS
}

/// Default number of new labels after which the running bot retrains the learned model.
pub const DEFAULT_RETRAIN_AFTER: u64 = 50;

fn default_retrain_after() -> u64 {
    DEFAULT_RETRAIN_AFTER
}

fn default_health_notice_after() -> Duration {
    DEFAULT_HEALTH_NOTICE_AFTER
}

fn default_shutdown_timeout() -> Duration {
    DEFAULT_SHUTDOWN_TIMEOUT
}

/// Reads a duration written the human way, such as `"30s"`, `"15m"` or `"1h 30m"`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(text.trim()).map_err(|error| {
            serde::de::Error::custom(format_args!(
                "invalid duration \"{text}\" ({error}): write it like \"30s\", \"15m\" or \"1h\""
            ))
        })
    }
}

mod optional_duration {
    use std::time::Duration;

    use serde::Deserializer;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(deserializer).map(Some)
    }
}
