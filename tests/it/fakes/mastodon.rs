//! A fake Mastodon instance, speaking the wire format of the official docs
//! (`specs/mastodon/docs/content/en/methods/{notifications,statuses}.md`, `api/rate-limits.md`,
//! `api/guidelines.md`, the Notification and Status entities, and `dist/schema.json`).
//!
//! - `GET /api/v1/notifications` (`types[]`, `since_id`, `max_id`, `min_id`, `limit` default 40
//!   max 80), newest first, with `Link` `rel="next"`/`rel="prev"` on the instance's own https
//!   domain; like Mastodon, the next link keeps `limit` and `types[]` but not `since_id`.
//! - `GET /api/v1/accounts/verify_credentials`, `GET /api/v2/instance`
//!   (`configuration.statuses.max_characters`), `GET /api/v1/statuses/:id`,
//!   `GET /api/v1/accounts/:id/statuses` (`limit` default 20 max 40).
//! - `POST /api/v1/statuses` (form or JSON): `status` required and within `max_characters`
//!   (422 `Validation failed: …` otherwise), `in_reply_to_id` must exist (404), `visibility`
//!   (default public), and `Idempotency-Key`: the same key answers the same status and creates
//!   no second one.
//! - Bearer token required (401 `{"error": "The access token is invalid"}`); every response
//!   carries `X-RateLimit-Limit`/`-Remaining`/`-Reset` (ISO 8601), and past the budget (300 per
//!   5 minutes unless told otherwise) it answers 429.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use tokio_stream::StreamExt;

use super::FakeServer;

/// The brand's account id on every fake instance.
pub const BRAND_ID: &str = "109000000000000001";

/// How a fake instance is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// `LOCAL_DOMAIN`: in handles and links.
    pub domain: String,
    /// The access token it accepts.
    pub token: String,
    /// `configuration.statuses.max_characters`.
    pub max_characters: usize,
    /// Requests allowed per window.
    pub rate_limit: usize,
    /// The rate-limit window.
    pub rate_window: Duration,
    /// The first id handed out (give two instances different ranges: real snowflake ids
    /// practically never collide across instances).
    pub first_id: u64,
    /// The most notifications one page holds, whatever `limit` asks (Mastodon: 80; servers
    /// speaking its API may cap lower).
    pub notifications_page_max: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            domain: "mastodon.example".to_string(),
            token: "token-acme".to_string(),
            max_characters: 500,
            rate_limit: 300,
            rate_window: Duration::from_secs(300),
            first_id: 110_000_000_000_000_000,
            notifications_page_max: 80,
        }
    }
}

/// A post to put on the fake instance (a customer's, unless `by` is the brand).
#[derive(Debug, Clone)]
pub struct Post {
    acct: String,
    text: String,
    in_reply_to: Option<String>,
    visibility: String,
    age: Duration,
    notify: bool,
}

impl Post {
    /// A public post by `acct` mentioning the brand (`jo` is local, `kim@other.example` remote).
    pub fn by(acct: &str, text: &str) -> Post {
        Post {
            acct: acct.to_string(),
            text: text.to_string(),
            in_reply_to: None,
            visibility: "public".to_string(),
            age: Duration::ZERO,
            notify: true,
        }
    }

    /// In reply to a status.
    pub fn reply_to(mut self, status_id: &str) -> Post {
        self.in_reply_to = Some(status_id.to_string());
        self
    }

    /// With this visibility.
    pub fn visibility(mut self, visibility: &str) -> Post {
        self.visibility = visibility.to_string();
        self
    }

    /// Posted this long ago.
    pub fn age(mut self, age: Duration) -> Post {
        self.age = age;
        self
    }
}

struct RateLimit {
    limit: usize,
    window: Duration,
    started: tokio::time::Instant,
    started_at: DateTime<Utc>,
    used: usize,
    rejected: usize,
}

struct Instance {
    options: Options,
    next_id: u64,
    accounts: HashMap<String, Value>,
    /// Notifications by id (ascending).
    notifications: BTreeMap<u64, Value>,
    /// Every status by id.
    statuses: BTreeMap<u64, Value>,
    /// Status ids by account id, and the account ids: indexes, as a real instance's database
    /// has, so a request costs the same at the 1,000th mention as at the first (the latency
    /// bench measures the bot, not the fake's scans).
    statuses_by_account: HashMap<String, BTreeSet<u64>>,
    account_ids: HashSet<String>,
    idempotency: HashMap<String, u64>,
    created: Vec<Value>,
    rate: RateLimit,
    /// Open notification streams (server-sent events).
    streams: Vec<tokio::sync::mpsc::UnboundedSender<String>>,
    /// How many stream requests are still refused (503).
    refuse_streams: usize,
    /// The server's own base URL (the streaming server is the same one).
    base_url: String,
}

type Shared = Arc<Mutex<Instance>>;

/// A running fake instance.
#[derive(Clone)]
pub struct MastodonFake {
    /// The HTTP server (recorder, fault injection).
    pub server: FakeServer,
    shared: Shared,
}

impl MastodonFake {
    /// An instance with default options.
    pub async fn start() -> MastodonFake {
        Self::start_with(Options::default()).await
    }

    /// An instance with these options.
    pub async fn start_with(options: Options) -> MastodonFake {
        let now = Utc::now();
        let brand = account_json(&options.domain, BRAND_ID, "acme", "Acme Support");
        let rate = RateLimit {
            limit: options.rate_limit,
            window: options.rate_window,
            started: tokio::time::Instant::now(),
            started_at: now,
            used: 0,
            rejected: 0,
        };
        let shared = Arc::new(Mutex::new(Instance {
            next_id: options.first_id,
            accounts: HashMap::from([("acme".to_string(), brand)]),
            notifications: BTreeMap::new(),
            statuses: BTreeMap::new(),
            statuses_by_account: HashMap::new(),
            account_ids: HashSet::from([BRAND_ID.to_string()]),
            idempotency: HashMap::new(),
            created: Vec::new(),
            rate,
            options,
            streams: Vec::new(),
            refuse_streams: 0,
            base_url: String::new(),
        }));
        let router = Router::new()
            .route("/api/v1/notifications", get(notifications))
            .route(
                "/api/v1/accounts/verify_credentials",
                get(verify_credentials),
            )
            .route("/api/v1/accounts/{id}/statuses", get(account_statuses))
            .route("/api/v2/instance", get(instance))
            .route("/api/v1/statuses", axum::routing::post(create_status))
            .route("/api/v1/statuses/{id}", get(status))
            .route(
                "/api/v1/streaming/user/notification",
                get(stream_notifications),
            )
            .layer(middleware::from_fn_with_state(
                shared.clone(),
                rate_and_auth,
            ))
            .with_state(shared.clone());
        let server = FakeServer::start(router).await;
        shared.lock().unwrap().base_url = server.base_url.clone();
        MastodonFake { server, shared }
    }

    /// The `[[sources]]` table for this instance.
    pub fn source_toml(&self, name: &str) -> String {
        let token = self.shared.lock().unwrap().options.token.clone();
        format!(
            r#"
[[sources]]
type = "mastodon"
name = "{name}"
base_url = "{base}"
access_token = "{token}"
poll_interval = "50ms"
request_timeout = "400ms"
"#,
            base = self.server.base_url
        )
    }

    /// Puts a post on the instance (with a mention notification for the brand); its status id.
    pub fn post(&self, post: Post) -> String {
        let mut instance = self.shared.lock().unwrap();
        let created_at = Utc::now() - chrono::Duration::from_std(post.age).unwrap();
        let id = instance.new_status(
            &post.acct,
            &post.text,
            post.in_reply_to.as_deref(),
            &post.visibility,
            created_at,
            true,
        );
        if post.notify {
            let status = instance.statuses[&id].clone();
            let notification_id = instance.take_id();
            instance.notifications.insert(
                notification_id,
                json!({
                    "id": notification_id.to_string(),
                    "type": "mention",
                    "group_key": format!("ungrouped-{notification_id}"),
                    "created_at": timestamp(created_at),
                    "account": status["account"].clone(),
                    "status": status,
                }),
            );
            let event = format!(
                "event: notification\ndata: {}\n\n",
                instance.notifications[&notification_id]
            );
            instance
                .streams
                .retain(|stream| stream.send(event.clone()).is_ok());
        }
        id.to_string()
    }

    /// A public mention by `acct`; its status id.
    pub fn mention(&self, acct: &str, text: &str) -> String {
        self.post(Post::by(acct, text))
    }

    /// The brand answers from the Mastodon app (no notification, no mentiondesk).
    pub fn brand_reply(&self, in_reply_to: &str, text: &str) -> String {
        let mut instance = self.shared.lock().unwrap();
        let id = instance.new_status("acme", text, Some(in_reply_to), "public", Utc::now(), false);
        id.to_string()
    }

    /// A post (with its notification) that the open streams do not hear about: as if it
    /// came while the stream was down.
    pub fn post_unstreamed(&self, post: Post) -> String {
        let streams = std::mem::take(&mut self.shared.lock().unwrap().streams);
        let id = self.post(post);
        self.shared.lock().unwrap().streams.extend(streams);
        id
    }

    /// Ends every open notification stream (the connection drops).
    pub fn drop_streams(&self) {
        self.shared.lock().unwrap().streams.clear();
    }

    /// Refuses the next `count` stream requests with 503.
    pub fn refuse_streams(&self, count: usize) {
        self.shared.lock().unwrap().refuse_streams = count;
    }

    /// How many notification streams are open.
    pub fn open_streams(&self) -> usize {
        let mut instance = self.shared.lock().unwrap();
        instance.streams.retain(|stream| !stream.is_closed());
        instance.streams.len()
    }

    /// Sends raw text to every open stream (malformed events, heartbeats).
    pub fn stream_raw(&self, text: &str) {
        let mut instance = self.shared.lock().unwrap();
        instance
            .streams
            .retain(|stream| stream.send(text.to_string()).is_ok());
    }

    /// Adds a notification exactly as given (malformed ones too), with the next id.
    pub fn push_raw_notification(&self, mut notification: Value) -> String {
        let mut instance = self.shared.lock().unwrap();
        let id = instance.take_id();
        notification["id"] = json!(id.to_string());
        instance.notifications.insert(id, notification);
        id.to_string()
    }

    /// The statuses created through `POST /api/v1/statuses`, once each.
    pub fn created(&self) -> Vec<Value> {
        self.shared.lock().unwrap().created.clone()
    }

    /// How many requests were answered 429 by the rate limit.
    pub fn rate_limited(&self) -> usize {
        self.shared.lock().unwrap().rate.rejected
    }

    /// The newest notification id.
    /// The ids of the notifications newer than `id`, oldest first.
    pub fn notifications_after(&self, id: &str) -> Vec<String> {
        let id: u64 = id.parse().unwrap_or(0);
        let instance = self.shared.lock().unwrap();
        instance
            .notifications
            .range(id + 1..)
            .map(|(key, _)| key.to_string())
            .collect()
    }

    pub fn newest_notification(&self) -> Option<String> {
        let instance = self.shared.lock().unwrap();
        instance
            .notifications
            .keys()
            .next_back()
            .map(u64::to_string)
    }
}

impl Instance {
    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn account(&mut self, acct: &str) -> Value {
        if let Some(account) = self.accounts.get(acct) {
            return account.clone();
        }
        let id = self.take_id().to_string();
        let username = acct.split('@').next().unwrap_or(acct).to_string();
        let account = account_json(&self.options.domain, &id, acct, &username);
        self.accounts.insert(acct.to_string(), account.clone());
        self.account_ids.insert(id);
        account
    }

    /// Creates a status; a customer's status mentions the brand.
    fn new_status(
        &mut self,
        acct: &str,
        text: &str,
        in_reply_to: Option<&str>,
        visibility: &str,
        created_at: DateTime<Utc>,
        mention_brand: bool,
    ) -> u64 {
        let account = self.account(acct);
        let id = self.take_id();
        let domain = self.options.domain.clone();
        let (content, mentions) = if mention_brand {
            (
                format!(
                    r#"<p><span class="h-card" translate="no"><a href="https://{domain}/@acme" class="u-url mention">@<span>acme</span></a></span> {}</p>"#,
                    escape(text)
                ),
                json!([{ "id": BRAND_ID, "username": "acme", "url": format!("https://{domain}/@acme"), "acct": "acme" }]),
            )
        } else {
            (format!("<p>{}</p>", escape(text)), json!([]))
        };
        let parent_account = in_reply_to
            .and_then(|parent| parent.parse::<u64>().ok())
            .and_then(|parent| self.statuses.get(&parent))
            .map(|parent| parent["account"]["id"].clone())
            .unwrap_or(Value::Null);
        let url = format!("{}/{id}", account["url"].as_str().unwrap_or_default());
        let status = json!({
            "id": id.to_string(),
            "uri": format!("https://{domain}/users/{}/statuses/{id}", account["username"].as_str().unwrap_or_default()),
            "url": url,
            "created_at": timestamp(created_at),
            "account": account,
            "content": content,
            "visibility": visibility,
            "sensitive": false,
            "spoiler_text": "",
            "media_attachments": [],
            "application": { "name": "Web", "website": null },
            "mentions": mentions,
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "in_reply_to_id": in_reply_to,
            "in_reply_to_account_id": parent_account,
            "reblog": null,
            "poll": null,
            "card": null,
            "language": "en",
            "edited_at": null,
        });
        if let Some(account_id) = status["account"]["id"].as_str() {
            self.statuses_by_account
                .entry(account_id.to_string())
                .or_default()
                .insert(id);
        }
        self.statuses.insert(id, status);
        id
    }
}

fn account_json(domain: &str, id: &str, acct: &str, display_name: &str) -> Value {
    let (username, host) = match acct.split_once('@') {
        Some((username, host)) => (username.to_string(), host.to_string()),
        None => (acct.to_string(), domain.to_string()),
    };
    json!({
        "id": id,
        "username": username,
        "acct": acct,
        "display_name": display_name,
        "locked": false,
        "bot": false,
        "discoverable": true,
        "group": false,
        "indexable": true,
        "created_at": "2023-01-10T00:00:00.000Z",
        "note": "",
        "uri": format!("https://{host}/users/{username}"),
        "url": format!("https://{host}/@{username}"),
        "avatar": format!("https://{host}/avatars/original/missing.png"),
        "avatar_static": format!("https://{host}/avatars/original/missing.png"),
        "header": format!("https://{host}/headers/original/missing.png"),
        "header_static": format!("https://{host}/headers/original/missing.png"),
        "followers_count": 42,
        "following_count": 7,
        "statuses_count": 100,
        "last_status_at": "2026-11-20",
        "emojis": [],
        "fields": []
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Authorization, then the rate budget; every answer carries the `X-RateLimit-*` headers.
async fn rate_and_auth(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (token, limit, remaining, reset, over) = {
        let mut instance = shared.lock().unwrap();
        let rate = &mut instance.rate;
        if rate.started.elapsed() >= rate.window {
            rate.started = tokio::time::Instant::now();
            rate.started_at = Utc::now();
            rate.used = 0;
        }
        rate.used += 1;
        let over = rate.used > rate.limit;
        if over {
            rate.rejected += 1;
        }
        let reset = rate.started_at + chrono::Duration::from_std(rate.window).unwrap();
        (
            instance.options.token.clone(),
            instance.rate.limit,
            instance.rate.limit.saturating_sub(instance.rate.used),
            reset,
            over,
        )
    };
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        == Some(format!("Bearer {token}").as_str());
    let mut response = if over {
        error(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
    } else if !authorized {
        error(StatusCode::UNAUTHORIZED, "The access token is invalid")
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert(
        "x-ratelimit-reset",
        HeaderValue::from_str(&reset.to_rfc3339_opts(SecondsFormat::Micros, true)).unwrap(),
    );
    response
}

fn query_pairs(query: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// One page of `items` (ascending by id) the way Mastodon pages: newest first, bounded by
/// `max_id`/`since_id`, or the `limit` right after `min_id`; plus the `Link` header. Only
/// items `keep` accepts count (the type filter); the bounds are ranges of the map, so a page
/// costs about its `limit`, not the whole map.
#[allow(clippy::too_many_arguments)]
fn page<V: std::borrow::Borrow<Value>>(
    items: &BTreeMap<u64, V>,
    keep: impl Fn(&Value) -> bool,
    pairs: &[(String, String)],
    default_limit: usize,
    max_limit: usize,
    domain: &str,
    path: &str,
    kept: &[&str],
) -> (HeaderMap, Vec<Value>) {
    let id = |key| param(pairs, key).and_then(|v| v.parse::<u64>().ok());
    let limit = param(pairs, "limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(default_limit)
        .clamp(1, max_limit);
    let upper = id("max_id").map_or(Bound::Unbounded, Bound::Excluded);
    let lower = |floor: Option<u64>| {
        floor
            .max(id("since_id"))
            .map_or(Bound::Unbounded, Bound::Excluded)
    };
    let empty = |lower: &Bound<u64>| match (lower, &upper) {
        (Bound::Excluded(low), Bound::Excluded(high)) => low >= high,
        _ => false,
    };
    let selected: Vec<Value> = match id("min_id") {
        Some(min) => {
            let lower = lower(Some(min));
            if empty(&lower) {
                Vec::new()
            } else {
                let mut ascending: Vec<Value> = items
                    .range((lower, upper))
                    .map(|(_, item)| item.borrow())
                    .filter(|item| keep(item))
                    .take(limit)
                    .cloned()
                    .collect();
                ascending.reverse();
                ascending
            }
        }
        None => {
            let lower = lower(None);
            if empty(&lower) {
                Vec::new()
            } else {
                items
                    .range((lower, upper))
                    .rev()
                    .map(|(_, item)| item.borrow())
                    .filter(|item| keep(item))
                    .take(limit)
                    .cloned()
                    .collect()
            }
        }
    };
    let mut headers = HeaderMap::new();
    if let (Some(first), Some(last)) = (selected.first(), selected.last()) {
        let mut kept_query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            if kept.contains(&key.as_str()) {
                kept_query.append_pair(key, value);
            }
        }
        let kept_query = kept_query.finish();
        let join = if kept_query.is_empty() { "" } else { "&" };
        let link = format!(
            r#"<https://{domain}{path}?{kept_query}{join}max_id={}>; rel="next", <https://{domain}{path}?{kept_query}{join}min_id={}>; rel="prev""#,
            last["id"].as_str().unwrap_or_default(),
            first["id"].as_str().unwrap_or_default(),
        );
        headers.insert("link", HeaderValue::from_str(&link).unwrap());
    }
    (headers, selected)
}

async fn notifications(State(shared): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let instance = shared.lock().unwrap();
    let pairs = query_pairs(&query);
    let types: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "types[]" || k == "types")
        .map(|(_, v)| v.as_str())
        .collect();
    let (headers, items) = page(
        &instance.notifications,
        |n| types.is_empty() || n["type"].as_str().is_some_and(|t| types.contains(&t)),
        &pairs,
        40,
        instance.options.notifications_page_max,
        &instance.options.domain,
        "/api/v1/notifications",
        &["limit", "types[]", "exclude_types[]", "account_id"],
    );
    (headers, Json(Value::Array(items))).into_response()
}

async fn verify_credentials(State(shared): State<Shared>) -> Response {
    let instance = shared.lock().unwrap();
    let mut me = instance.accounts["acme"].clone();
    me["source"] = json!({ "privacy": "public", "sensitive": false, "language": "en", "note": "", "fields": [] });
    Json(me).into_response()
}

async fn instance(State(shared): State<Shared>) -> Response {
    let instance = shared.lock().unwrap();
    let domain = &instance.options.domain;
    Json(json!({
        "domain": domain,
        "title": "Fake Mastodon",
        "version": "4.5.0",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "A fake instance for tests",
        "usage": { "users": { "active_month": 3 } },
        "thumbnail": { "url": format!("https://{domain}/thumb.png") },
        "icon": [],
        "languages": ["en"],
        "api_versions": { "mastodon": 7 },
        "configuration": {
            // The streaming server is this one, named as Mastodon names it (ws for http).
            "urls": { "streaming": instance.base_url.replacen("http", "ws", 1) },
            "accounts": { "max_featured_tags": 10, "max_pinned_statuses": 5 },
            "statuses": {
                "max_characters": instance.options.max_characters,
                "max_media_attachments": 4,
                "characters_reserved_per_url": 23
            },
            "media_attachments": {},
            "polls": { "max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746 },
            "translation": { "enabled": false }
        },
        "registrations": { "enabled": false, "approval_required": false, "message": null },
        "contact": { "email": format!("admin@{domain}"), "account": null },
        "rules": []
    }))
    .into_response()
}

async fn status(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let instance = shared.lock().unwrap();
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| instance.statuses.get(&id))
    {
        Some(status) => Json(status.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

async fn account_statuses(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let instance = shared.lock().unwrap();
    let pairs = query_pairs(&query);
    if !instance.account_ids.contains(&id) {
        return error(StatusCode::NOT_FOUND, "Record not found");
    }
    let own: BTreeMap<u64, &Value> = instance
        .statuses_by_account
        .get(&id)
        .into_iter()
        .flatten()
        .filter_map(|status| Some((*status, instance.statuses.get(status)?)))
        .collect();
    let (headers, items) = page(
        &own,
        |_| true,
        &pairs,
        20,
        40,
        &instance.options.domain,
        &format!("/api/v1/accounts/{id}/statuses"),
        &["limit", "exclude_reblogs", "exclude_replies", "only_media"],
    );
    (headers, Json(Value::Array(items))).into_response()
}

/// The length Mastodon checks: a URL counts 23, `@user@domain` counts as `@user`.
fn status_length(text: &str) -> usize {
    let urls = regex::Regex::new(r"https?://\S+").unwrap();
    let remote = regex::Regex::new(r"(@[A-Za-z0-9_]+)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap();
    let without_domains = remote.replace_all(text, "$1");
    let url_count = urls.find_iter(&without_domains).count();
    urls.replace_all(&without_domains, "").chars().count() + 23 * url_count
}

async fn create_status(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let fields: HashMap<String, String> = if is_json {
        match serde_json::from_slice::<serde_json::Map<String, Value>>(&body) {
            Ok(map) => map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                .collect(),
            Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid JSON"),
        }
    } else {
        url::form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    };
    let mut instance = shared.lock().unwrap();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(existing) = key.as_ref().and_then(|key| instance.idempotency.get(key)) {
        return Json(instance.statuses[existing].clone()).into_response();
    }
    let text = fields.get("status").map(String::as_str).unwrap_or_default();
    if text.trim().is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Text can't be blank",
        );
    }
    let max = instance.options.max_characters;
    if status_length(text) > max {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Validation failed: Text character limit of {max} exceeded"),
        );
    }
    let in_reply_to = fields.get("in_reply_to_id").cloned();
    if let Some(parent) = &in_reply_to {
        let known = parent
            .parse::<u64>()
            .ok()
            .is_some_and(|id| instance.statuses.contains_key(&id));
        if !known {
            return error(StatusCode::NOT_FOUND, "Record not found");
        }
    }
    let visibility = fields
        .get("visibility")
        .cloned()
        .unwrap_or_else(|| "public".to_string());
    if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Visibility is not included in the list",
        );
    }
    let id = instance.new_status(
        "acme",
        text,
        in_reply_to.as_deref(),
        &visibility,
        Utc::now(),
        false,
    );
    if let Some(key) = key {
        instance.idempotency.insert(key, id);
    }
    let status = instance.statuses[&id].clone();
    instance.created.push(status.clone());
    Json(status).into_response()
}

/// `GET /api/v1/streaming/user/notification`: server-sent events, a `:thump` heartbeat first,
/// then `event: notification` with the notification JSON for each new mention.
async fn stream_notifications(State(shared): State<Shared>) -> Response {
    let mut instance = shared.lock().unwrap();
    if instance.refuse_streams > 0 {
        instance.refuse_streams -= 1;
        return error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    }
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
    let _ = sender.send(":thump\n".to_string());
    instance.streams.push(sender);
    let body = axum::body::Body::from_stream(
        tokio_stream::wrappers::UnboundedReceiverStream::new(receiver)
            .map(Ok::<String, std::convert::Infallible>),
    );
    (
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        body,
    )
        .into_response()
}
