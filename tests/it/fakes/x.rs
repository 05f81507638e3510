//! A fake X API v2: the mentions timeline, a user's tweets, and `POST /2/tweets`.
//!
//! Shapes follow the 2.159 OpenAPI spec (`shared/specs/x-api-v2/latest-openapi.json`):
//! `data`, `includes.users`, `meta.{newest_id,oldest_id,result_count,next_token}`, `errors`
//! (`Problem`), `TweetCreateRequest` (no unknown fields), `TweetCreateResponse`. Limits come
//! from `shared/specs/platform-limits.json` (x_api_v2): mentions 450 requests per 15 minutes
//! per app, posting 100 per 15 minutes per user, `x-rate-limit-{limit,remaining,reset}` on every
//! answer and 429 past the limit; `max_results` 5 to 100. A post is checked for a well-formed
//! OAuth 1.0a `Authorization` header whose HMAC-SHA1 signature is recomputed with the same
//! crate, and for X's 280 weighted characters.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use mentiondesk::domain::{text::reply_length, Network};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::FakeServer;

/// The brand account the tests configure.
pub const BRAND_ID: &str = "1000000001";
/// Its username.
pub const BRAND_USERNAME: &str = "AcmeSupport";
/// The app's bearer token.
pub const BEARER: &str = "test-bearer-token";
/// OAuth 1.0a credentials: consumer key, consumer secret, access token, token secret.
pub const OAUTH: [&str; 4] = [
    "test-consumer-key",
    "test-consumer-secret",
    "1000000001-test-access-token",
    "test-access-secret",
];

/// A rate-limit window of one endpoint.
#[derive(Debug, Clone)]
struct Window {
    limit: u32,
    length: Duration,
    started: Instant,
    started_unix: i64,
    used: u32,
}

impl Window {
    fn new(limit: u32, length: Duration) -> Window {
        Window {
            limit,
            length,
            started: Instant::now(),
            started_unix: Utc::now().timestamp(),
            used: 0,
        }
    }

    /// Counts a request; false when it is over the limit.
    fn take(&mut self) -> bool {
        if self.started.elapsed() >= self.length {
            *self = Window::new(self.limit, self.length);
        }
        if self.used >= self.limit {
            return false;
        }
        self.used += 1;
        true
    }

    fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("x-rate-limit-limit", self.limit.to_string()),
            (
                "x-rate-limit-remaining",
                self.limit.saturating_sub(self.used).to_string(),
            ),
            (
                "x-rate-limit-reset",
                (self.started_unix + self.length.as_secs() as i64).to_string(),
            ),
        ]
    }
}

/// A tweet the fake holds.
#[derive(Debug, Clone)]
pub struct FakeTweet {
    /// The tweet JSON as the API would return it with every field we serve.
    pub json: Value,
}

impl FakeTweet {
    fn id(&self) -> u64 {
        self.json["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0)
    }
    fn author(&self) -> &str {
        self.json["author_id"].as_str().unwrap_or_default()
    }
}

/// One answer a mentions request got, for timing assertions.
#[derive(Debug, Clone)]
pub struct Served {
    /// When it was answered.
    pub at: Instant,
    /// The status.
    pub status: u16,
}

#[derive(Default)]
struct XState {
    base_url: OnceLock<String>,
    tweets: Mutex<Vec<FakeTweet>>,
    users: Mutex<HashMap<String, Value>>,
    next_id: Mutex<u64>,
    windows: Mutex<HashMap<&'static str, Window>>,
    /// Raw items added to the next mentions page as they are (malformed tweets).
    raw_next: Mutex<Vec<Value>>,
    /// Partial errors added to the next mentions page.
    errors_next: Mutex<Vec<Value>>,
    /// Accept the next post, then wait this long before answering.
    stall_next_post: Mutex<Option<Duration>>,
    mentions_served: Mutex<Vec<Served>>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeX {
    /// The server (requests, faults, base URL).
    pub server: FakeServer,
    state: Arc<XState>,
}

impl FakeX {
    /// Starts the fake with X's real limits.
    pub async fn start() -> FakeX {
        Self::start_with_mentions_window(450, Duration::from_secs(15 * 60)).await
    }

    /// Starts the fake with another mentions rate-limit window (tests of 429 need a short one).
    pub async fn start_with_mentions_window(limit: u32, length: Duration) -> FakeX {
        let state = Arc::new(XState::default());
        *state.next_id.lock().unwrap() = 1_850_000_000_000_000_000;
        {
            let mut windows = state.windows.lock().unwrap();
            windows.insert("mentions", Window::new(limit, length));
            // Not in our specs: the user tweets timeline gets the mentions limit.
            windows.insert("tweets", Window::new(450, Duration::from_secs(15 * 60)));
            windows.insert("create", Window::new(100, Duration::from_secs(15 * 60)));
            windows.insert("search", Window::new(450, Duration::from_secs(15 * 60)));
        }
        let router = Router::new()
            .route("/2/users/{id}", get(user))
            .route("/2/users/{id}/mentions", get(mentions))
            .route("/2/users/{id}/tweets", get(user_tweets))
            .route("/2/tweets", post(create))
            .route("/2/tweets/search/recent", get(search_recent))
            .with_state(state.clone());
        let server = FakeServer::start(router).await;
        state.base_url.set(server.base_url.clone()).unwrap();
        let fake = FakeX { server, state };
        fake.add_user(BRAND_ID, BRAND_USERNAME, "Acme Support", 5000);
        fake
    }

    /// The `[[sources]]` table for this fake.
    pub fn source_toml(&self, name: &str, extra: &str) -> String {
        format!(
            r#"
[[sources]]
type = "x"
name = "{name}"
base_url = "{base}"
user_id = "{BRAND_ID}"
bearer_token = "{BEARER}"
consumer_key = "{ck}"
consumer_secret = "{cs}"
access_token = "{at}"
access_token_secret = "{ats}"
poll_interval = "100ms"
{extra}
"#,
            base = self.server.base_url,
            ck = OAUTH[0],
            cs = OAUTH[1],
            at = OAUTH[2],
            ats = OAUTH[3],
        )
    }

    /// Adds a user; returns its id.
    pub fn add_user(&self, id: &str, username: &str, name: &str, followers: u64) -> String {
        self.state.users.lock().unwrap().insert(
            id.to_string(),
            json!({
                "id": id, "username": username, "name": name,
                "public_metrics": { "followers_count": followers, "following_count": 10,
                    "tweet_count": 100, "listed_count": 0 }
            }),
        );
        id.to_string()
    }

    /// A customer posts (now); returns the tweet id.
    pub fn tweet(&self, author_id: &str, text: &str, reply_to: Option<&str>) -> String {
        self.tweet_at(author_id, text, reply_to, Utc::now())
    }

    /// A tweet posted at `created_at`; returns its id.
    pub fn tweet_at(
        &self,
        author_id: &str,
        text: &str,
        reply_to: Option<&str>,
        created_at: DateTime<Utc>,
    ) -> String {
        insert_tweet(&self.state, author_id, text, reply_to, created_at)
    }

    /// Someone retweets `original`; returns the retweet's id.
    pub fn retweet(&self, author_id: &str, original: &str) -> String {
        let id = self.tweet(author_id, &format!("RT @{BRAND_USERNAME}: ..."), None);
        let mut tweets = self.state.tweets.lock().unwrap();
        let tweet = tweets.iter_mut().find(|t| t.json["id"] == id).unwrap();
        tweet.json["referenced_tweets"] = json!([{ "type": "retweeted", "id": original }]);
        id
    }

    /// Adds a raw item to the next mentions page's `data`, as is.
    pub fn add_raw_to_next_page(&self, item: Value) {
        self.state.raw_next.lock().unwrap().push(item);
    }

    /// Adds a partial error (`Problem`) to the next mentions page.
    pub fn add_error_to_next_page(&self, problem: Value) {
        self.state.errors_next.lock().unwrap().push(problem);
    }

    /// The next post is accepted, then answered only after `delay`.
    pub fn stall_next_post(&self, delay: Duration) {
        *self.state.stall_next_post.lock().unwrap() = Some(delay);
    }

    /// Uses up the mentions window now (another client of the same app spent it).
    pub fn exhaust_mentions_window(&self) {
        let mut windows = self.state.windows.lock().unwrap();
        let window = windows.get_mut("mentions").unwrap();
        window.used = window.limit;
    }

    /// Tweets posted by the brand account (our replies).
    pub fn brand_tweets(&self) -> Vec<Value> {
        self.state
            .tweets
            .lock()
            .unwrap()
            .iter()
            .filter(|tweet| tweet.author() == BRAND_ID)
            .map(|tweet| tweet.json.clone())
            .collect()
    }

    /// When each mentions request was answered, and how.
    pub fn mentions_served(&self) -> Vec<Served> {
        self.state.mentions_served.lock().unwrap().clone()
    }

    /// The recorded recent-search requests' query pairs.
    pub fn search_queries(&self) -> Vec<HashMap<String, String>> {
        self.server
            .requests_to("GET", "/2/tweets/search/recent")
            .iter()
            .map(|request| parse_query(&request.query))
            .collect()
    }

    /// The recorded requests for the brand's own tweets, as query pairs.
    pub fn own_tweets_queries(&self) -> Vec<HashMap<String, String>> {
        self.server
            .requests_to("GET", &format!("/2/users/{BRAND_ID}/tweets"))
            .iter()
            .map(|request| parse_query(&request.query))
            .collect()
    }

    /// The recorded mentions requests' query pairs.
    pub fn mentions_queries(&self) -> Vec<HashMap<String, String>> {
        self.server
            .requests_to("GET", &format!("/2/users/{BRAND_ID}/mentions"))
            .iter()
            .map(|request| parse_query(&request.query))
            .collect()
    }
}

fn insert_tweet(
    state: &XState,
    author_id: &str,
    text: &str,
    reply_to: Option<&str>,
    created_at: DateTime<Utc>,
) -> String {
    let id = {
        let mut next = state.next_id.lock().unwrap();
        *next += 1;
        next.to_string()
    };
    // X returns tweet text with `&`, `<` and `>` escaped as HTML entities.
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut json = json!({
        "id": id,
        "text": escaped,
        "author_id": author_id,
        "created_at": created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "conversation_id": id,
        "edit_history_tweet_ids": [id],
        "lang": "en"
    });
    let mut tweets = state.tweets.lock().unwrap();
    if let Some(parent) = reply_to {
        let parent = tweets
            .iter()
            .find(|tweet| tweet.json["id"] == parent)
            .expect("the parent tweet exists");
        json["conversation_id"] = parent.json["conversation_id"].clone();
        json["in_reply_to_user_id"] = parent.json["author_id"].clone();
        json["referenced_tweets"] = json!([{ "type": "replied_to", "id": parent.json["id"] }]);
    }
    tweets.push(FakeTweet { json });
    id
}

/// Query pairs of a recorded request.
pub fn parse_query(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn problem(status: StatusCode, title: &str, detail: &str, kind: &str) -> Value {
    json!({ "title": title, "detail": detail, "type": kind, "status": status.as_u16() })
}

fn invalid(message: &str, parameter: &str) -> Response {
    let mut body = problem(
        StatusCode::BAD_REQUEST,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        "https://api.twitter.com/2/problems/invalid-request",
    );
    body["errors"] = json!([{ "message": message, "parameters": { parameter: [] } }]);
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
            "about:blank",
        )),
    )
        .into_response()
}

/// Takes one request from `window`, runs `answer` if allowed, and puts the rate-limit headers
/// on whatever is answered.
fn limited(state: &XState, window: &'static str, answer: impl FnOnce() -> Response) -> Response {
    let (allowed, headers) = {
        let mut windows = state.windows.lock().unwrap();
        let window = windows.get_mut(window).unwrap();
        let allowed = window.take();
        (allowed, window.headers())
    };
    let mut response = if allowed {
        answer()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Json(problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "Too Many Requests",
                "about:blank",
            )),
        )
            .into_response()
    };
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).unwrap());
    }
    response
}

fn bearer_ok(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {BEARER}").as_str())
}

/// Tweets newest first, after `since_id`, before the pagination token, after `start_time`.
fn timeline(
    state: &XState,
    query: &HashMap<String, String>,
    keep: impl Fn(&FakeTweet) -> bool,
) -> Result<(Vec<FakeTweet>, Option<String>), Box<Response>> {
    timeline_from(state, query, 5, keep)
}

/// [`timeline`] with another smallest `max_results` (recent search's is 10).
fn timeline_from(
    state: &XState,
    query: &HashMap<String, String>,
    min_results: usize,
    keep: impl Fn(&FakeTweet) -> bool,
) -> Result<(Vec<FakeTweet>, Option<String>), Box<Response>> {
    let max_results: usize = match query.get("max_results").map(|v| v.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (min_results..=100).contains(&n) => n,
        _ => {
            return Err(Box::new(invalid(
                &format!("max_results must be between {min_results} and 100"),
                "max_results",
            )))
        }
    };
    let id_param = |name: &str| -> Result<Option<u64>, Box<Response>> {
        match query.get(name) {
            None => Ok(None),
            Some(value)
                if !value.is_empty()
                    && value.len() <= 19
                    && value.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(value.parse().ok())
            }
            Some(_) => Err(Box::new(invalid(
                &format!("{name} must be a tweet id"),
                name,
            ))),
        }
    };
    let since_id = id_param("since_id")?;
    let until_id = match query.get("pagination_token").or(query.get("next_token")) {
        Some(token) => match u64::from_str_radix(token, 36) {
            Ok(id) => Some(id),
            Err(_) => {
                return Err(Box::new(invalid(
                    "bad pagination_token",
                    "pagination_token",
                )))
            }
        },
        None => None,
    };
    let start_time = match query.get("start_time") {
        Some(value) => match DateTime::parse_from_rfc3339(value) {
            Ok(time) => Some(time.with_timezone(&Utc)),
            Err(_) => {
                return Err(Box::new(invalid(
                    "start_time must be RFC 3339",
                    "start_time",
                )))
            }
        },
        None => None,
    };
    let mut tweets: Vec<FakeTweet> = state
        .tweets
        .lock()
        .unwrap()
        .iter()
        .filter(|tweet| keep(tweet))
        .filter(|tweet| since_id.map_or(true, |since| tweet.id() > since))
        .filter(|tweet| until_id.map_or(true, |until| tweet.id() < until))
        .filter(|tweet| {
            start_time.map_or(true, |start| {
                tweet.json["created_at"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t >= start)
            })
        })
        .cloned()
        .collect();
    tweets.sort_by_key(|tweet| std::cmp::Reverse(tweet.id()));
    let more = tweets.len() > max_results;
    tweets.truncate(max_results);
    let next_token = more
        .then(|| tweets.last().map(|tweet| radix36(tweet.id())))
        .flatten();
    Ok((tweets, next_token))
}

fn radix36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// A tweet with only the fields asked for (`id`, `text` and `edit_history_tweet_ids` always).
fn with_fields(tweet: &Value, fields: Option<&String>) -> Value {
    let asked: Vec<&str> = fields.map(|f| f.split(',').collect()).unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (key, value) in tweet.as_object().into_iter().flatten() {
        let always = matches!(key.as_str(), "id" | "text" | "edit_history_tweet_ids");
        let expanded = key == "author_id";
        if always || expanded || asked.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

fn page(
    tweets: &[FakeTweet],
    next_token: Option<String>,
    query: &HashMap<String, String>,
    users: Option<&HashMap<String, Value>>,
    extra_data: Vec<Value>,
    errors: Vec<Value>,
) -> Value {
    let mut data: Vec<Value> = tweets
        .iter()
        .map(|tweet| with_fields(&tweet.json, query.get("tweet.fields")))
        .collect();
    data.extend(extra_data);
    let mut body = json!({});
    let mut meta = json!({ "result_count": data.len() });
    if !tweets.is_empty() {
        meta["newest_id"] = tweets[0].json["id"].clone();
        meta["oldest_id"] = tweets[tweets.len() - 1].json["id"].clone();
    }
    if let Some(token) = next_token {
        meta["next_token"] = json!(token);
    }
    if let Some(users) = users {
        let want_metrics = query
            .get("user.fields")
            .is_some_and(|f| f.split(',').any(|f| f == "public_metrics"));
        let mut included: Vec<Value> = Vec::new();
        for tweet in tweets {
            if let Some(user) = users.get(tweet.author()) {
                if !included.iter().any(|u| u["id"] == user["id"]) {
                    let mut user = user.clone();
                    if !want_metrics {
                        user.as_object_mut().unwrap().remove("public_metrics");
                    }
                    included.push(user);
                }
            }
        }
        if !included.is_empty() {
            body["includes"] = json!({ "users": included });
        }
    }
    if !data.is_empty() {
        body["data"] = json!(data);
    }
    if !errors.is_empty() {
        body["errors"] = json!(errors);
    }
    body["meta"] = meta;
    body
}

async fn mentions(
    State(state): State<Arc<XState>>,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let response = limited(&state, "mentions", || {
        if !bearer_ok(&headers) {
            return unauthorized();
        }
        let users = state.users.lock().unwrap().clone();
        let Some(brand) = users.get(&user_id) else {
            return invalid("unknown user", "id");
        };
        let handle = format!("@{}", brand["username"].as_str().unwrap()).to_lowercase();
        let (tweets, next_token) = match timeline(&state, &query, |tweet| {
            tweet.json["text"]
                .as_str()
                .is_some_and(|text| text.to_lowercase().contains(&handle))
        }) {
            Ok(found) => found,
            Err(response) => return *response,
        };
        let expand_authors = query
            .get("expansions")
            .is_some_and(|e| e.split(',').any(|e| e == "author_id"));
        let raw = std::mem::take(&mut *state.raw_next.lock().unwrap());
        let errors = std::mem::take(&mut *state.errors_next.lock().unwrap());
        let body = page(
            &tweets,
            next_token,
            &query,
            expand_authors.then_some(&users),
            raw,
            errors,
        );
        (StatusCode::OK, Json(body)).into_response()
    });
    state.mentions_served.lock().unwrap().push(Served {
        at: Instant::now(),
        status: response.status().as_u16(),
    });
    response
}

/// `GET /2/users/:id`: the user object (bearer token), or X's not-found problem.
async fn user(
    State(state): State<Arc<XState>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !bearer_ok(&headers) {
        return unauthorized();
    }
    match state.users.lock().unwrap().get(&user_id) {
        Some(user) => (StatusCode::OK, Json(json!({ "data": user }))).into_response(),
        None => (
            StatusCode::OK,
            Json(json!({ "errors": [{
                "value": user_id, "detail": format!("Could not find user with id: [{user_id}]."),
                "title": "Not Found Error", "resource_type": "user", "parameter": "id",
                "resource_id": user_id, "type": "https://api.twitter.com/2/problems/resource-not-found"
            }] })),
        )
            .into_response(),
    }
}

async fn user_tweets(
    State(state): State<Arc<XState>>,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    limited(&state, "tweets", || {
        if !bearer_ok(&headers) {
            return unauthorized();
        }
        let excluded: Vec<String> = query
            .get("exclude")
            .map(|e| e.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let kept = |tweet: &FakeTweet| {
            let kind = |k: &str| {
                tweet.json["referenced_tweets"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["type"] == k))
            };
            tweet.author() == user_id
                && !(excluded.iter().any(|e| e == "retweets") && kind("retweeted"))
                && !(excluded.iter().any(|e| e == "replies") && kind("replied_to"))
        };
        let users = state.users.lock().unwrap().clone();
        let expand_authors = query
            .get("expansions")
            .is_some_and(|e| e.split(',').any(|e| e == "author_id"));
        match timeline(&state, &query, kept) {
            Ok((tweets, next_token)) => (
                StatusCode::OK,
                Json(page(
                    &tweets,
                    next_token,
                    &query,
                    expand_authors.then_some(&users),
                    vec![],
                    vec![],
                )),
            )
                .into_response(),
            Err(response) => *response,
        }
    })
}

/// The terms of a query as our source writes it: `(a OR "b c") -is:retweet`. The fake
/// understands only that much of X's query language.
fn query_terms(query: &str) -> Vec<String> {
    let query = query.replace("-is:retweet", "");
    let query = query.trim().trim_start_matches('(').trim_end_matches(')');
    query
        .split(" OR ")
        .map(|term| term.trim().trim_matches('"').to_lowercase())
        .filter(|term| !term.is_empty())
        .collect()
}

/// `GET /2/tweets/search/recent`: tweets of the last seven days matching the query, newest
/// first, with `next_token` pages.
async fn search_recent(
    State(state): State<Arc<XState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    limited(&state, "search", || {
        if !bearer_ok(&headers) {
            return unauthorized();
        }
        let Some(text) = query.get("query").filter(|q| !q.is_empty()) else {
            return invalid("query is required", "query");
        };
        if text.chars().count() > 512 {
            return invalid("query must be at most 512 characters", "query");
        }
        if let Some(start) = query
            .get("start_time")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            if start < Utc::now() - chrono::Duration::days(7) {
                return invalid(
                    "Invalid 'start_time':'…'. 'start_time' must be on or after the last 7 days.",
                    "start_time",
                );
            }
        }
        let terms = query_terms(text);
        let matches = |tweet: &FakeTweet| {
            let body = tweet.json["text"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            let retweet = tweet.json["referenced_tweets"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["type"] == "retweeted"));
            !retweet && terms.iter().any(|term| body.contains(term.as_str()))
        };
        let users = state.users.lock().unwrap().clone();
        let expand_authors = query
            .get("expansions")
            .is_some_and(|e| e.split(',').any(|e| e == "author_id"));
        match timeline_from(&state, &query, 10, matches) {
            Ok((tweets, next_token)) => (
                StatusCode::OK,
                Json(page(
                    &tweets,
                    next_token,
                    &query,
                    expand_authors.then_some(&users),
                    vec![],
                    vec![],
                )),
            )
                .into_response(),
            Err(response) => *response,
        }
    })
}

/// Parses `OAuth k="v", ...` into percent-decoded pairs.
fn oauth_params(header: &str) -> Option<HashMap<String, String>> {
    let rest = header.strip_prefix("OAuth ")?;
    let mut params = HashMap::new();
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        let value = value.strip_prefix('"')?.strip_suffix('"')?;
        let decoded = percent_decode(value)?;
        params.insert(key.to_string(), decoded);
    }
    Some(params)
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks a post's OAuth 1.0a header: every protocol parameter present, our credentials, and
/// the HMAC-SHA1 signature recomputed over the same nonce and timestamp.
pub fn oauth_problem(base_url: &str, header: Option<&str>) -> Option<String> {
    let Some(header) = header else {
        return Some("no Authorization header".to_string());
    };
    let Some(params) = oauth_params(header) else {
        return Some(format!("malformed OAuth header: {header}"));
    };
    for key in [
        "oauth_consumer_key",
        "oauth_nonce",
        "oauth_signature",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_token",
    ] {
        if !params.contains_key(key) {
            return Some(format!("missing {key}"));
        }
    }
    if params["oauth_signature_method"] != "HMAC-SHA1" {
        return Some("signature method is not HMAC-SHA1".to_string());
    }
    if params["oauth_consumer_key"] != OAUTH[0] || params["oauth_token"] != OAUTH[2] {
        return Some("unknown consumer key or token".to_string());
    }
    let Some(timestamp) = params["oauth_timestamp"]
        .parse::<u64>()
        .ok()
        .and_then(NonZeroU64::new)
    else {
        return Some("bad oauth_timestamp".to_string());
    };
    let token = oauth1_request::Token::from_parts(OAUTH[0], OAUTH[1], OAUTH[2], OAUTH[3]);
    let mut builder = oauth1_request::Builder::with_token(token, oauth1_request::HMAC_SHA1);
    builder
        .nonce(params["oauth_nonce"].as_str())
        .timestamp(timestamp);
    let expected = builder.post(format!("{base_url}/2/tweets"), &());
    let expected = oauth_params(&expected).expect("the crate's header parses");
    if expected["oauth_signature"] != params["oauth_signature"] {
        return Some("signature does not match".to_string());
    }
    None
}

async fn create(
    State(state): State<Arc<XState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let stall = {
        let base_url = state.base_url.get().cloned().unwrap_or_default();
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        if let Some(problem) = oauth_problem(&base_url, authorization) {
            let mut response = unauthorized();
            response.headers_mut().insert(
                "x-fake-reason",
                HeaderValue::from_str(&problem.replace(['\r', '\n'], " ")).unwrap(),
            );
            return response;
        }
        let response = limited(&state, "create", || {
            let Ok(request) = serde_json::from_slice::<Value>(&body) else {
                return invalid("the body is not JSON", "body");
            };
            let allowed = ["text", "reply", "quote_tweet_id", "media", "poll"];
            if let Some(unknown) = request
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
                .find(|k| !allowed.contains(&k.as_str()))
            {
                return invalid(&format!("unknown field {unknown}"), unknown);
            }
            let Some(text) = request["text"].as_str() else {
                return invalid("text is required", "text");
            };
            if reply_length(Network::X, text) > 280 {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({
                        "title": "Invalid Request",
                        "detail": "One or more parameters to your request was invalid.",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                        "errors": [{ "message": "text: must be at most 280 weighted characters",
                            "parameters": { "text": [text] } }]
                    })),
                )
                    .into_response();
            }
            let Some(parent) = request["reply"]["in_reply_to_tweet_id"].as_str() else {
                return invalid("reply.in_reply_to_tweet_id is required", "reply");
            };
            let exists = state
                .tweets
                .lock()
                .unwrap()
                .iter()
                .any(|tweet| tweet.json["id"] == parent);
            if !exists {
                return invalid(
                    "the tweet replied to does not exist",
                    "in_reply_to_tweet_id",
                );
            }
            let id = insert_tweet(&state, BRAND_ID, text, Some(parent), Utc::now());
            (
                StatusCode::CREATED,
                Json(json!({ "data": { "id": id, "text": text, "edit_history_tweet_ids": [id] } })),
            )
                .into_response()
        });
        let stall = if response.status() == StatusCode::CREATED {
            state.stall_next_post.lock().unwrap().take()
        } else {
            None
        };
        (response, stall)
    };
    let (response, stall) = stall;
    if let Some(delay) = stall {
        tokio::time::sleep(delay).await;
    }
    response
}
