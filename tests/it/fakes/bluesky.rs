//! A fake Bluesky PDS (with the AppView reads it proxies): XRPC over HTTP at `/xrpc/<nsid>`.
//!
//! Shapes, limits and error bodies come from the lexicons in
//! `shared/specs/atproto-lexicons` (createSession, refreshSession, listNotifications, getPosts,
//! createRecord, app.bsky.feed.post, app.bsky.richtext.facet, com.atproto.repo.strongRef) and
//! from the reference PDS's observed behaviour:
//! - errors are `{"error": "<Name>", "message": "..."}`; an expired access token is
//!   `400 ExpiredToken`; a refresh token used as an access token is `400 InvalidToken`;
//! - every answer carries `ratelimit-limit`/`-remaining`/`-reset` (Unix seconds)/`-policy`, and
//!   a spent budget answers `429 RateLimitExceeded`;
//! - `createRecord` validates the post (text at most 300 graphemes and 3000 bytes, `createdAt`,
//!   at most 3 `langs`, facets, reply strong refs) and, like the reference PDS today
//!   (bluesky-social/atproto#3718), answers a second create at an existing record key with a
//!   bare `500 InternalServerError`.
//!
//! Stricter than the real thing, on purpose: facet byte ranges must lie inside the text, and
//! reply refs must name known posts with their current CIDs, so tests catch wrong offsets and
//! wrong threads. Test controls: publish posts and notifications, expire tokens, spend the
//! rate-limit budget, read what the brand posted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::FakeServer;

/// The brand account's DID.
pub const BRAND_DID: &str = "did:plc:acmebrand2345abcdefghijk";
/// The brand account's handle.
pub const BRAND_HANDLE: &str = "acme.bsky.social";
/// The brand account's app password.
pub const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
/// The request budget per window the fake announces.
pub const RATE_LIMIT: u32 = 3000;

const POST: &str = "app.bsky.feed.post";

/// A post on the fake network.
#[derive(Debug, Clone)]
pub struct Post {
    /// Its at-uri.
    pub uri: String,
    /// Its CID.
    pub cid: String,
    /// Its author's DID.
    pub did: String,
    /// Its author's handle.
    pub handle: String,
    /// Its record key (a TID).
    pub rkey: String,
    /// The thread's root (itself for a top-level post), as a strong ref.
    pub root: (String, String),
}

impl Post {
    /// `{uri, cid}`.
    pub fn strong_ref(&self) -> Value {
        json!({ "uri": self.uri, "cid": self.cid })
    }
}

#[derive(Default)]
struct Pds {
    counter: u64,
    /// Access tokens, and whether they expired.
    access: HashMap<String, bool>,
    /// Refresh tokens, and whether they expired.
    refresh: HashMap<String, bool>,
    sessions_created: usize,
    sessions_refreshed: usize,
    notifications: Vec<Value>,
    /// Post views by at-uri.
    posts: HashMap<String, Value>,
    /// DIDs by handle.
    handles: HashMap<String, String>,
    /// The brand's repo: post records by record key, in creation order.
    records: Vec<(String, Value)>,
    rate_remaining: u32,
    rate_reset: i64,
    rate_limited: usize,
    /// How long the next successful create waits before answering (after committing).
    slow_create: Option<Duration>,
}

type Shared = Arc<Mutex<Pds>>;

/// A running fake PDS.
#[derive(Clone)]
pub struct FakePds {
    /// The HTTP server (requests, faults).
    pub server: FakeServer,
    state: Shared,
}

impl FakePds {
    /// Starts the fake with the brand's account.
    pub async fn start() -> FakePds {
        let state: Shared = Arc::new(Mutex::new(Pds {
            rate_remaining: RATE_LIMIT,
            rate_reset: Utc::now().timestamp() + 300,
            ..Pds::default()
        }));
        state
            .lock()
            .unwrap()
            .handles
            .insert(BRAND_HANDLE.to_string(), BRAND_DID.to_string());
        let router = Router::new()
            .route(
                "/xrpc/com.atproto.server.createSession",
                post(create_session),
            )
            .route(
                "/xrpc/com.atproto.server.refreshSession",
                post(refresh_session),
            )
            .route(
                "/xrpc/app.bsky.notification.listNotifications",
                get(list_notifications),
            )
            .route("/xrpc/app.bsky.feed.getPosts", get(get_posts))
            .route("/xrpc/com.atproto.repo.getRecord", get(get_record))
            .route(
                "/xrpc/com.atproto.identity.resolveHandle",
                get(resolve_handle),
            )
            .route("/xrpc/com.atproto.repo.createRecord", post(create_record))
            .route("/xrpc/app.bsky.feed.getAuthorFeed", get(get_author_feed))
            .route("/xrpc/app.bsky.feed.searchPosts", get(search_posts))
            .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
            .with_state(state.clone());
        FakePds {
            server: FakeServer::start(router).await,
            state,
        }
    }

    /// The `[[sources]]` table for this fake (polling every 50ms).
    pub fn source_toml(&self, name: &str) -> String {
        format!(
            r#"
[[sources]]
type = "bluesky"
name = "{name}"
base_url = "{base}"
identifier = "{BRAND_HANDLE}"
app_password = "{APP_PASSWORD}"
poll_interval = "50ms"
"#,
            base = self.server.base_url
        )
    }

    /// `handle` posts `text` mentioning the brand; the brand is notified now.
    pub fn mention(&self, handle: &str, text: &str) -> Post {
        self.publish(handle, text, None, Some("mention"), Utc::now())
    }

    /// `handle` posts `text` in reply to `parent`; the brand is notified for `reason` (or not
    /// at all with `None`).
    pub fn reply(&self, handle: &str, text: &str, parent: &Post, reason: Option<&str>) -> Post {
        self.publish(handle, text, Some(parent), reason, Utc::now())
    }

    /// Publishes a post; `reason` adds a notification indexed at `indexed_at`.
    pub fn publish(
        &self,
        handle: &str,
        text: &str,
        parent: Option<&Post>,
        reason: Option<&str>,
        indexed_at: DateTime<Utc>,
    ) -> Post {
        let mut pds = self.state.lock().unwrap();
        let did = did_for(handle);
        pds.handles.insert(handle.to_string(), did.clone());
        let n = pds.next();
        let rkey = tid(Utc::now().timestamp_micros() as u64, n);
        let uri = format!("at://{did}/{POST}/{rkey}");
        let cid = cid_for(n);
        let mut record = json!({
            "$type": POST,
            "text": text,
            "createdAt": timestamp(indexed_at),
            "langs": ["en"],
        });
        let root = match parent {
            Some(parent) => {
                record["reply"] = json!({
                    "root": { "uri": parent.root.0, "cid": parent.root.1 },
                    "parent": parent.strong_ref(),
                });
                parent.root.clone()
            }
            None => (uri.clone(), cid.clone()),
        };
        if let Some(start) = text.find(&format!("@{BRAND_HANDLE}")) {
            record["facets"] = json!([{
                "index": { "byteStart": start, "byteEnd": start + 1 + BRAND_HANDLE.len() },
                "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": BRAND_DID }],
            }]);
        }
        let author = json!({ "did": did, "handle": handle, "displayName": display_name(handle) });
        pds.posts.insert(
            uri.clone(),
            post_view(&uri, &cid, author.clone(), record.clone(), indexed_at),
        );
        if let Some(reason) = reason {
            let mut notification = json!({
                "uri": uri,
                "cid": cid,
                "author": author,
                "reason": reason,
                "record": record,
                "isRead": false,
                "indexedAt": timestamp(indexed_at),
                "labels": [],
            });
            if let Some(parent) = parent {
                notification["reasonSubject"] = json!(parent.uri);
            }
            pds.notifications.push(notification);
        }
        Post {
            uri,
            cid,
            did,
            handle: handle.to_string(),
            rkey,
            root,
        }
    }

    /// The brand answers `parent` from the Bluesky app (not through mentiondesk): a post in the
    /// brand's repo, listed in its author feed; the customer is not notified of our own post.
    pub fn brand_reply(&self, parent: &Post, text: &str) -> Post {
        let mut pds = self.state.lock().unwrap();
        let n = pds.next();
        let rkey = tid(Utc::now().timestamp_micros() as u64, n);
        let uri = format!("at://{BRAND_DID}/{POST}/{rkey}");
        let cid = cid_for(n);
        let value = json!({
            "$type": POST,
            "text": text,
            "createdAt": timestamp(Utc::now()),
            "langs": ["en"],
            "reply": {
                "root": { "uri": parent.root.0, "cid": parent.root.1 },
                "parent": parent.strong_ref(),
            },
        });
        pds.records.push((
            rkey.clone(),
            json!({ "uri": uri, "cid": cid, "value": value }),
        ));
        let author = json!({ "did": BRAND_DID, "handle": BRAND_HANDLE, "displayName": "Acme" });
        pds.posts.insert(
            uri.clone(),
            post_view(&uri, &cid, author, value, Utc::now()),
        );
        Post {
            uri,
            cid,
            did: BRAND_DID.to_string(),
            handle: BRAND_HANDLE.to_string(),
            rkey,
            root: parent.root.clone(),
        }
    }

    /// Adds a notification as is (likes, follows, malformed ones).
    pub fn notify_raw(&self, notification: Value) {
        self.state.lock().unwrap().notifications.push(notification);
    }

    /// The brand's posts, oldest first: `{uri, cid, value}`.
    pub fn brand_posts(&self) -> Vec<Value> {
        let pds = self.state.lock().unwrap();
        pds.records
            .iter()
            .map(|(_, record)| record.clone())
            .collect()
    }

    /// The brand's `index`th post as a `Post`, to answer it.
    pub fn brand_post(&self, index: usize) -> Post {
        let record = &self.brand_posts()[index];
        let uri = record["uri"].as_str().unwrap().to_string();
        let cid = record["cid"].as_str().unwrap().to_string();
        let root = (
            record["value"]["reply"]["root"]["uri"]
                .as_str()
                .unwrap_or(&uri)
                .to_string(),
            record["value"]["reply"]["root"]["cid"]
                .as_str()
                .unwrap_or(&cid)
                .to_string(),
        );
        Post {
            rkey: uri.rsplit('/').next().unwrap().to_string(),
            uri,
            cid,
            did: BRAND_DID.to_string(),
            handle: BRAND_HANDLE.to_string(),
            root,
        }
    }

    /// Every access token issued so far now answers `ExpiredToken`.
    pub fn expire_access_tokens(&self) {
        let mut pds = self.state.lock().unwrap();
        pds.access.values_mut().for_each(|expired| *expired = true);
    }

    /// Access and refresh tokens issued so far all expire: only a new sign-in helps.
    pub fn expire_all_tokens(&self) {
        let mut pds = self.state.lock().unwrap();
        pds.access.values_mut().for_each(|expired| *expired = true);
        pds.refresh.values_mut().for_each(|expired| *expired = true);
    }

    /// Leaves `remaining` requests in the budget, renewed `reset_in_secs` from now.
    pub fn set_rate_budget(&self, remaining: u32, reset_in_secs: i64) {
        let mut pds = self.state.lock().unwrap();
        pds.rate_remaining = remaining;
        pds.rate_reset = Utc::now().timestamp() + reset_in_secs;
    }

    /// The next successful `createRecord` commits the post, then waits `delay` before
    /// answering: a client that times out meanwhile does not know its post exists.
    pub fn slow_next_create(&self, delay: Duration) {
        self.state.lock().unwrap().slow_create = Some(delay);
    }

    /// How many requests were refused with 429.
    pub fn rate_limited(&self) -> usize {
        self.state.lock().unwrap().rate_limited
    }

    /// How many sessions were created, and refreshed.
    pub fn session_counts(&self) -> (usize, usize) {
        let pds = self.state.lock().unwrap();
        (pds.sessions_created, pds.sessions_refreshed)
    }
}

impl Pds {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn issue_session(&mut self) -> Value {
        let n = self.next();
        let access = format!("access-{n}");
        let refresh = format!("refresh-{n}");
        self.access.insert(access.clone(), false);
        self.refresh.insert(refresh.clone(), false);
        json!({
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": BRAND_HANDLE,
            "did": BRAND_DID,
            "active": true,
        })
    }

    /// The DID behind the request's access token, or the XRPC error to answer.
    fn authorize(&self, headers: &HeaderMap) -> Result<&'static str, Refusal> {
        let token = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let Some(token) = token else {
            return Err(Refusal(
                401,
                "AuthenticationRequired",
                "Authentication Required",
            ));
        };
        match self.access.get(token) {
            Some(false) => Ok(BRAND_DID),
            Some(true) => Err(Refusal(400, "ExpiredToken", "Token has expired")),
            None if self.refresh.contains_key(token) => {
                Err(Refusal(400, "InvalidToken", "Invalid token type"))
            }
            None => Err(Refusal(400, "InvalidToken", "Token could not be verified")),
        }
    }
}

/// An XRPC error to answer: status, error name, message.
struct Refusal(u16, &'static str, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        xrpc_error(self.0, self.1, self.2)
    }
}

fn xrpc_error(status: u16, error: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({ "error": error, "message": message })),
    )
        .into_response()
}

fn invalid(message: impl Into<String>) -> Response {
    xrpc_error(400, "InvalidRequest", &message.into())
}

fn params(query: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn rate_limit(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let (remaining, reset) = {
        let mut pds = state.lock().unwrap();
        let now = Utc::now().timestamp();
        if now >= pds.rate_reset {
            pds.rate_remaining = RATE_LIMIT;
            pds.rate_reset = now + 300;
        }
        if pds.rate_remaining == 0 {
            pds.rate_limited += 1;
            let mut response = xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded");
            rate_headers(response.headers_mut(), 0, pds.rate_reset);
            return response;
        }
        pds.rate_remaining -= 1;
        (pds.rate_remaining, pds.rate_reset)
    };
    let mut response = next.run(request).await;
    rate_headers(response.headers_mut(), remaining, reset);
    response
}

fn rate_headers(headers: &mut HeaderMap, remaining: u32, reset: i64) {
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    set("ratelimit-limit", RATE_LIMIT.to_string());
    set("ratelimit-remaining", remaining.to_string());
    set("ratelimit-reset", reset.to_string());
    set("ratelimit-policy", format!("{RATE_LIMIT};w=300"));
}

async fn create_session(State(state): State<Shared>, Json(input): Json<Value>) -> Response {
    let (Some(identifier), Some(password)) =
        (input["identifier"].as_str(), input["password"].as_str())
    else {
        return invalid("Input must have the properties \"identifier\" and \"password\"");
    };
    let known = identifier == BRAND_HANDLE || identifier == BRAND_DID;
    if !known || password != APP_PASSWORD {
        return xrpc_error(
            401,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    }
    let mut pds = state.lock().unwrap();
    pds.sessions_created += 1;
    Json(pds.issue_session()).into_response()
}

async fn refresh_session(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut pds = state.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    match pds.refresh.get(&token) {
        Some(false) => {
            // Refresh tokens are single use: the new session replaces the old one.
            pds.refresh.remove(&token);
            pds.sessions_refreshed += 1;
            Json(pds.issue_session()).into_response()
        }
        Some(true) => xrpc_error(400, "ExpiredToken", "Token has expired"),
        None if pds.access.contains_key(&token) => {
            xrpc_error(400, "InvalidToken", "Invalid token type")
        }
        None => xrpc_error(400, "InvalidToken", "Token could not be verified"),
    }
}

async fn list_notifications(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pds = state.lock().unwrap();
    if let Err(refusal) = pds.authorize(&headers) {
        return refusal.into_response();
    }
    let params = params(&query);
    let limit = match param(&params, "limit").map(str::parse::<usize>) {
        None => 50,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(_) => return invalid("limit must be an integer between 1 and 100"),
    };
    let offset = match param(&params, "cursor") {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("o:").and_then(|n| n.parse().ok()) {
            Some(offset) => offset,
            None => return invalid("Malformed cursor"),
        },
    };
    let reasons: Vec<&str> = params
        .iter()
        .filter(|(key, _)| key == "reasons")
        .map(|(_, value)| value.as_str())
        .collect();
    // Newest first; among equal times, the later one first.
    let mut listed: Vec<&Value> = pds
        .notifications
        .iter()
        .rev()
        .filter(|n| reasons.is_empty() || reasons.contains(&n["reason"].as_str().unwrap_or("")))
        .collect();
    listed.sort_by(|a, b| {
        b["indexedAt"]
            .as_str()
            .unwrap_or("")
            .cmp(a["indexedAt"].as_str().unwrap_or(""))
    });
    let page: Vec<&Value> = listed.iter().skip(offset).take(limit).copied().collect();
    let mut body = json!({ "notifications": page });
    if !page.is_empty() {
        body["cursor"] = json!(format!("o:{}", offset + page.len()));
    }
    Json(body).into_response()
}

async fn get_posts(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pds = state.lock().unwrap();
    if let Err(refusal) = pds.authorize(&headers) {
        return refusal.into_response();
    }
    let uris: Vec<String> = params(&query)
        .into_iter()
        .filter(|(key, _)| key == "uris")
        .map(|(_, value)| value)
        .collect();
    if uris.is_empty() {
        return invalid("Params must have the property \"uris\"");
    }
    if uris.len() > 25 {
        return invalid("uris must not have more than 25 elements");
    }
    let posts: Vec<&Value> = uris.iter().filter_map(|uri| pds.posts.get(uri)).collect();
    Json(json!({ "posts": posts })).into_response()
}

async fn get_record(State(state): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let pds = state.lock().unwrap();
    let params = params(&query);
    let (Some(repo), Some(collection), Some(rkey)) = (
        param(&params, "repo"),
        param(&params, "collection"),
        param(&params, "rkey"),
    ) else {
        return invalid("Params must have the properties \"repo\", \"collection\" and \"rkey\"");
    };
    let found = (repo == BRAND_DID || repo == BRAND_HANDLE) && collection == POST;
    match pds.records.iter().find(|(key, _)| found && key == rkey) {
        Some((_, record)) => Json(record.clone()).into_response(),
        None => xrpc_error(
            400,
            "RecordNotFound",
            &format!("Could not locate record: at://{repo}/{collection}/{rkey}"),
        ),
    }
}

async fn resolve_handle(State(state): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let pds = state.lock().unwrap();
    let params = params(&query);
    match param(&params, "handle").and_then(|handle| pds.handles.get(handle)) {
        Some(did) => Json(json!({ "did": did })).into_response(),
        None => invalid("Unable to resolve handle"),
    }
}

async fn create_record(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(input): Json<Value>,
) -> Response {
    let (response, delay) = {
        let mut pds = state.lock().unwrap();
        let response = create_record_now(&mut pds, &headers, &input);
        let delay = if response.status().is_success() {
            pds.slow_create.take()
        } else {
            None
        };
        (response, delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn create_record_now(pds: &mut Pds, headers: &HeaderMap, input: &Value) -> Response {
    let did = match pds.authorize(headers) {
        Ok(did) => did,
        Err(refusal) => return refusal.into_response(),
    };
    let repo = input["repo"].as_str().unwrap_or_default();
    if repo != did && repo != BRAND_HANDLE {
        return xrpc_error(401, "AuthenticationRequired", "Authentication Required");
    }
    if input["collection"] != POST {
        return invalid(format!("This fake only knows {POST}"));
    }
    let record = &input["record"];
    if record.get("$type").is_some_and(|t| t != POST) {
        return invalid(format!(
            "Invalid $type: expected {POST}, got {}",
            record["$type"]
        ));
    }
    let n = pds.next();
    let rkey = match input.get("rkey") {
        None => tid(Utc::now().timestamp_micros() as u64, n),
        Some(rkey) => match rkey.as_str().filter(|rkey| is_tid(rkey)) {
            Some(rkey) => rkey.to_string(),
            None => return invalid(format!("Invalid TID record key: {rkey}")),
        },
    };
    if let Err(problem) = validate_post(record, pds) {
        return invalid(format!("Invalid {POST} record: {problem}"));
    }
    if pds.records.iter().any(|(key, _)| key == &rkey) {
        // What the reference PDS answers today (bluesky-social/atproto#3718).
        return xrpc_error(500, "InternalServerError", "Internal Server Error");
    }
    let uri = format!("at://{BRAND_DID}/{POST}/{rkey}");
    let cid = cid_for(n);
    let mut value = record.clone();
    value["$type"] = json!(POST);
    pds.records.push((
        rkey.clone(),
        json!({ "uri": uri, "cid": cid, "value": value }),
    ));
    let author = json!({ "did": BRAND_DID, "handle": BRAND_HANDLE, "displayName": "Acme" });
    pds.posts.insert(
        uri.clone(),
        post_view(&uri, &cid, author, value, Utc::now()),
    );
    Json(json!({
        "uri": uri,
        "cid": cid,
        "commit": { "cid": cid_for(n + 1_000_000), "rev": tid(Utc::now().timestamp_micros() as u64, 0) },
        "validationStatus": "valid",
    }))
    .into_response()
}

/// The `app.bsky.feed.post` checks; the message names the field like the PDS does.
fn validate_post(record: &Value, pds: &Pds) -> Result<(), String> {
    let Some(text) = record["text"].as_str() else {
        return Err("Record must have the property \"text\"".into());
    };
    if text.graphemes(true).count() > 300 {
        return Err("Record/text must not be longer than 300 graphemes".into());
    }
    if text.len() > 3000 {
        return Err("Record/text must not be longer than 3000 characters".into());
    }
    let created_at = record["createdAt"].as_str().unwrap_or_default();
    if DateTime::parse_from_rfc3339(created_at).is_err() {
        return Err("Record/createdAt must be an valid atproto datetime".into());
    }
    if let Some(langs) = record.get("langs") {
        if !langs.as_array().is_some_and(|langs| langs.len() <= 3) {
            return Err("Record/langs must not have more than 3 elements".into());
        }
    }
    for (index, facet) in record["facets"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let start = facet["index"]["byteStart"].as_u64();
        let end = facet["index"]["byteEnd"].as_u64();
        let (Some(start), Some(end)) = (start, end) else {
            return Err(format!(
                "Record/facets/{index}/index must have byteStart and byteEnd"
            ));
        };
        if start >= end || end as usize > text.len() {
            return Err(format!(
                "Record/facets/{index}/index [{start}, {end}) is outside the text's {} bytes",
                text.len()
            ));
        }
        let features = facet["features"].as_array().filter(|f| !f.is_empty());
        let Some(features) = features else {
            return Err(format!("Record/facets/{index}/features must not be empty"));
        };
        for feature in features {
            if feature["$type"] == "app.bsky.richtext.facet#mention"
                && !feature["did"]
                    .as_str()
                    .is_some_and(|did| did.starts_with("did:"))
            {
                return Err(format!(
                    "Record/facets/{index}/features/0/did must be a did"
                ));
            }
        }
    }
    if let Some(reply) = record.get("reply") {
        for part in ["root", "parent"] {
            let (Some(uri), Some(cid)) = (reply[part]["uri"].as_str(), reply[part]["cid"].as_str())
            else {
                return Err(format!(
                    "Record/reply/{part} must have the properties \"uri\" and \"cid\""
                ));
            };
            let known = pds.posts.get(uri).and_then(|post| post["cid"].as_str());
            if known != Some(cid) {
                return Err(format!(
                    "Record/reply/{part} names no known post: {uri} {cid}"
                ));
            }
        }
    }
    Ok(())
}

fn post_view(uri: &str, cid: &str, author: Value, record: Value, at: DateTime<Utc>) -> Value {
    json!({
        "uri": uri,
        "cid": cid,
        "author": author,
        "record": record,
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": 0,
        "quoteCount": 0,
        "indexedAt": timestamp(at),
        "labels": [],
    })
}

/// An ISO 8601 timestamp with milliseconds, as the AppView writes them.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID from a microsecond clock and a clock id.
fn tid(micros: u64, clock_id: u64) -> String {
    let value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF);
    (0..13)
        .rev()
        .map(|index| BASE32_SORTABLE[((value >> (index * 5)) & 31) as usize] as char)
        .collect()
}

/// The TID syntax of the atproto spec.
pub fn is_tid(text: &str) -> bool {
    text.len() == 13
        && b"234567abcdefghij".contains(&text.as_bytes()[0])
        && text.bytes().all(|byte| BASE32_SORTABLE.contains(&byte))
}

fn cid_for(n: u64) -> String {
    format!(
        "bafyrei{}",
        tid(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11, n).repeat(4)
    )
}

/// The DID the fake gives a handle.
pub fn did_for(handle: &str) -> String {
    let suffix: String = handle
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|byte| byte.to_ascii_lowercase() as char)
        .collect();
    format!("did:plc:{suffix}")
}

fn display_name(handle: &str) -> String {
    let name = handle.split('.').next().unwrap_or(handle);
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Offset cursors (`o:<n>`) and `limit` (1 to 100, `default` when absent), or the error.
fn paging(params: &[(String, String)], default: usize) -> Result<(usize, usize), Box<Response>> {
    let limit = match param(params, "limit").map(str::parse::<usize>) {
        None => default,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(_) => {
            return Err(Box::new(invalid(
                "limit must be an integer between 1 and 100",
            )))
        }
    };
    let offset = match param(params, "cursor") {
        None => 0,
        Some(cursor) => match cursor.strip_prefix("o:").and_then(|n| n.parse().ok()) {
            Some(offset) => offset,
            None => return Err(Box::new(invalid("Malformed cursor"))),
        },
    };
    Ok((offset, limit))
}

/// Post views newest first (by `indexedAt`).
fn newest_first<'a>(posts: impl Iterator<Item = &'a Value>) -> Vec<&'a Value> {
    let mut posts: Vec<&Value> = posts.collect();
    posts.sort_by(|a, b| {
        b["indexedAt"]
            .as_str()
            .unwrap_or("")
            .cmp(a["indexedAt"].as_str().unwrap_or(""))
    });
    posts
}

/// `app.bsky.feed.getAuthorFeed`: the actor's posts as `feedViewPost`s, newest first, with
/// the `reply` context of answers; `filter` as in the lexicon (replies unless
/// `posts_no_replies`).
async fn get_author_feed(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pds = state.lock().unwrap();
    if let Err(refusal) = pds.authorize(&headers) {
        return refusal.into_response();
    }
    let params = params(&query);
    let Some(actor) = param(&params, "actor") else {
        return invalid("Params must have the property \"actor\"");
    };
    let did = match pds.handles.get(actor) {
        Some(did) => did.clone(),
        None if actor.starts_with("did:") => actor.to_string(),
        None => return invalid("Profile not found"),
    };
    let (offset, limit) = match paging(&params, 50) {
        Ok(paging) => paging,
        Err(response) => return *response,
    };
    let no_replies = param(&params, "filter") == Some("posts_no_replies");
    let posts = newest_first(pds.posts.values().filter(|post| {
        post["author"]["did"] == did.as_str()
            && !(no_replies && post["record"].get("reply").is_some())
    }));
    let page: Vec<Value> = posts
        .iter()
        .skip(offset)
        .take(limit)
        .map(|post| {
            let mut item = json!({ "post": post });
            let reply = &post["record"]["reply"];
            if let (Some(root), Some(parent)) = (
                reply["root"]["uri"]
                    .as_str()
                    .and_then(|uri| pds.posts.get(uri)),
                reply["parent"]["uri"]
                    .as_str()
                    .and_then(|uri| pds.posts.get(uri)),
            ) {
                let mut parent_view = parent.clone();
                parent_view["$type"] = json!("app.bsky.feed.defs#postView");
                let mut root_view = root.clone();
                root_view["$type"] = json!("app.bsky.feed.defs#postView");
                item["reply"] = json!({ "root": root_view, "parent": parent_view });
            }
            item
        })
        .collect();
    let mut body = json!({ "feed": page });
    if offset + page.len() < posts.len() {
        body["cursor"] = json!(format!("o:{}", offset + page.len()));
    }
    Json(body).into_response()
}

/// `app.bsky.feed.searchPosts` (served by the AppView: without a session it answers too):
/// posts whose text holds the query (a quoted phrase or a word, case-insensitive), newest
/// first, from `since` (inclusive) on.
async fn search_posts(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pds = state.lock().unwrap();
    if headers.contains_key("authorization") {
        if let Err(refusal) = pds.authorize(&headers) {
            return refusal.into_response();
        }
    }
    let params = params(&query);
    let Some(q) = param(&params, "q").filter(|q| !q.trim().is_empty()) else {
        return invalid("Params must have the property \"q\"");
    };
    if let Some(sort) = param(&params, "sort") {
        if sort != "top" && sort != "latest" {
            return invalid("sort must be one of \"top\", \"latest\"");
        }
    }
    let since = match param(&params, "since") {
        None => None,
        Some(since) => match DateTime::parse_from_rfc3339(since) {
            Ok(since) => Some(timestamp(since.with_timezone(&Utc))),
            Err(_) => return invalid("since must be a valid datetime"),
        },
    };
    let (offset, limit) = match paging(&params, 25) {
        Ok(paging) => paging,
        Err(response) => return *response,
    };
    let term = q.trim().trim_matches('"').to_lowercase();
    let posts = newest_first(pds.posts.values().filter(|post| {
        post["record"]["text"]
            .as_str()
            .is_some_and(|text| text.to_lowercase().contains(&term))
            && since.as_deref().map_or(true, |since| {
                post["indexedAt"].as_str().unwrap_or("") >= since
            })
    }));
    let page: Vec<&Value> = posts.iter().skip(offset).take(limit).copied().collect();
    let mut body = json!({ "posts": page, "hitsTotal": posts.len() });
    if offset + page.len() < posts.len() {
        body["cursor"] = json!(format!("o:{}", offset + page.len()));
    }
    Json(body).into_response()
}
