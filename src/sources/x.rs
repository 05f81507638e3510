//! The X source (API v2): mentions in through `GET /2/users/:id/mentions`, public replies out
//! through `POST /2/tweets`, and a monthly read/write budget because every call is paid for.
//!
//! Reads use the app's bearer token; replies are signed with OAuth 1.0a in the brand account's
//! user context. The cursor is the newest tweet id read (`meta.newest_id`): a fetch pages
//! (`pagination_token`) through everything newer than it before moving it, so a batch is never
//! half-read. On the first start only tweets newer than `now - backfill` are read.
//!
//! X has no idempotency key. A reply is made exactly-once by looking, before posting, for a
//! tweet of ours that answers the same tweet with the same text (`GET /2/users/:id/tweets`
//! since the customer's tweet): a retry after a timeout finds the post the first attempt made.
//! What that cannot see (a post X accepted but does not list yet) is the residual risk,
//! described in `ARCHITECTURE.md`.
//!
//! The budget counts tweets read and posts written per calendar month (UTC) in the store, so
//! a restart does not reset it. At 80 % of the read budget the poll interval doubles; at 100 %
//! reading stops until the month changes. A reply past the write budget is refused.
//!
//! **Architecture invariant:** this is the only module that knows X's JSON.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use reqwest::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::http;
use super::{Fetched, PostedIds, ReplyReceipt, ReplyRequest, SourceClient, SourceError};
use crate::config::{Secret, XSource as XConfig};
use crate::domain::{Author, Mention, MentionKind, Network};
use crate::health::OpsNotices;
use crate::store::Store;

/// Where people open a tweet (not an API host: nothing connects to it).
pub const WEB_URL: &str = "https://x.com";

/// The most tweets one mentions page may hold (the API's maximum).
const PAGE_MAX: u64 = 100;
/// The fewest the timelines accept in `max_results`.
const PAGE_MIN: u64 = 5;
/// The fewest recent search accepts in `max_results`.
const SEARCH_PAGE_MIN: u64 = 10;
/// The longest search query (the docs' limit for recent search; the OpenAPI says 4096).
pub const SEARCH_QUERY_MAX: usize = 512;
/// How many pages of our own recent tweets the exactly-once check reads at most.
const CHECK_PAGES: usize = 3;
/// The tweet fields a mention needs.
const TWEET_FIELDS: &str = "conversation_id,created_at,referenced_tweets,in_reply_to_user_id,lang";
/// The user fields a mention's author needs.
const USER_FIELDS: &str = "username,name,public_metrics";

/// Settings of one X source.
#[derive(Debug, Clone)]
pub struct XSettings {
    /// The source's name.
    pub name: String,
    /// The API root, e.g. `https://api.x.com`.
    pub base_url: String,
    /// The brand account's numeric id.
    pub user_id: String,
    /// App bearer token, for reads.
    pub bearer_token: Secret,
    /// OAuth 1.0a consumer key.
    pub consumer_key: Secret,
    /// OAuth 1.0a consumer secret.
    pub consumer_secret: Secret,
    /// OAuth 1.0a access token of the brand's account.
    pub access_token: Secret,
    /// OAuth 1.0a access token secret of the brand's account.
    pub access_token_secret: Secret,
    /// Time between two polls (doubled past 80 % of the read budget).
    pub poll_interval: Duration,
    /// How far back to read on the first start.
    pub backfill: Duration,
    /// Tweets that may be read per calendar month.
    pub monthly_read_budget: u64,
    /// Posts that may be written per calendar month.
    pub monthly_write_budget: u64,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// The share of the read budget at which the ops channel is told (once a month).
    pub budget_notice_at: f64,
    /// Words or phrases watched with recent search.
    pub keywords: Vec<String>,
}

impl XSettings {
    /// The settings of a configured X source, with the default request timeout.
    pub fn from_config(config: &XConfig) -> XSettings {
        XSettings {
            name: config.name.clone(),
            base_url: config.base_url.trim_end_matches('/').to_string(),
            user_id: config.user_id.clone(),
            bearer_token: config.bearer_token.clone(),
            consumer_key: config.consumer_key.clone(),
            consumer_secret: config.consumer_secret.clone(),
            access_token: config.access_token.clone(),
            access_token_secret: config.access_token_secret.clone(),
            poll_interval: config.poll_interval,
            backfill: config.backfill,
            monthly_read_budget: config.monthly_read_budget,
            monthly_write_budget: config.monthly_write_budget,
            request_timeout: http::REQUEST_TIMEOUT,
            budget_notice_at: config.budget_notice_at,
            keywords: config.keywords.clone(),
        }
    }
}

/// The X source.
pub struct XSource {
    settings: XSettings,
    http: reqwest::Client,
    store: Store,
    /// Budget notices already logged, as `month/kind`, so each is logged once per month.
    noticed: Mutex<HashSet<String>>,
    /// Where budget notices go.
    ops: OpsNotices,
    /// Tweets this process posted: not "answered outside" when the own timeline lists them.
    posted: PostedIds,
    /// Replies being posted right now: the own timeline is not read meanwhile (it could list
    /// the new tweet before the reply is recorded as ours).
    replies_in_flight: AtomicUsize,
}

impl std::fmt::Debug for XSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XSource")
            .field("name", &self.settings.name)
            .finish_non_exhaustive()
    }
}

impl XSource {
    /// An X source keeping its budget counters in `store`.
    pub fn new(settings: XSettings, store: Store) -> Result<XSource, SourceError> {
        let http = http::client_with_timeout(settings.request_timeout)?;
        Ok(XSource {
            settings,
            http,
            store,
            noticed: Mutex::new(HashSet::new()),
            ops: OpsNotices::default(),
            posted: PostedIds::default(),
            replies_in_flight: AtomicUsize::new(0),
        })
    }

    /// Posts budget notices to `ops` (the application's chats).
    pub fn with_ops(mut self, ops: OpsNotices) -> XSource {
        self.ops = ops;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    /// The store key of this month's counter of `kind` (`reads` or `writes`).
    fn budget_key(&self, month: &str, kind: &str) -> String {
        format!("x-budget/{}/{month}/{kind}", self.settings.name)
    }

    fn used(&self, month: &str, kind: &str) -> Result<u64, SourceError> {
        self.store
            .counter(&self.budget_key(month, kind))
            .map_err(|error| SourceError::Transient(format!("cannot read the X budget: {error}")))
    }

    async fn spend(&self, month: &str, kind: &str, amount: u64) -> Result<u64, SourceError> {
        self.store
            .add_to_counter(&self.budget_key(month, kind), amount)
            .await
            .map_err(|error| SourceError::Transient(format!("cannot record the X budget: {error}")))
    }

    /// True the first time this month that `kind` is noticed.
    fn first_notice(&self, month: &str, kind: &str) -> bool {
        self.noticed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(format!("{month}/{kind}"))
    }

    /// One GET with the bearer token, parsed as a timeline page; also returns how long to wait
    /// when the rate-limit window is used up.
    async fn read_page(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(Page, Option<Duration>), SourceError> {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(self.settings.bearer_token.expose())
            .query(query)
            .send()
            .await
            .map_err(http::transport_error)?;
        let response = check(response).await?;
        let exhausted = http::exhausted_wait(response.headers(), Utc::now());
        let body = response.bytes().await.map_err(http::transport_error)?;
        let page: Page = serde_json::from_slice(&body).map_err(|error| {
            tracing::warn!(source = %self.settings.name, path, error = %error, "Skipping a malformed X response");
            SourceError::Transient(format!("malformed response from X ({path}): {error}"))
        })?;
        for problem in &page.errors {
            tracing::warn!(
                source = %self.settings.name,
                path,
                problem = %problem,
                "X reported a partial error; skipping that item"
            );
        }
        Ok((page, exhausted))
    }

    /// Looks for a tweet of ours answering `request.in_reply_to` with the same text.
    async fn already_replied(
        &self,
        request: &ReplyRequest,
        month: &str,
    ) -> Result<Option<ReplyReceipt>, SourceError> {
        let path = format!("/2/users/{}/tweets", self.settings.user_id);
        let wanted = comparable_text(&request.text);
        let mut pagination_token: Option<String> = None;
        for _ in 0..CHECK_PAGES {
            let mut query = vec![
                ("since_id", request.in_reply_to.id.clone()),
                ("max_results", PAGE_MAX.to_string()),
                ("tweet.fields", "referenced_tweets,created_at".to_string()),
            ];
            if let Some(token) = &pagination_token {
                query.push(("pagination_token", token.clone()));
            }
            let (page, _) = self.read_page(&path, &query).await?;
            self.spend(month, "reads", page.data.len() as u64).await?;
            for value in &page.data {
                let Ok(tweet) = serde_json::from_value::<Tweet>(value.clone()) else {
                    continue;
                };
                if tweet.replied_to() == Some(request.in_reply_to.id.as_str())
                    && comparable_text(&tweet.text) == wanted
                {
                    return Ok(Some(receipt(&tweet.id)));
                }
            }
            match page.meta.next_token {
                Some(token) => pagination_token = Some(token),
                None => break,
            }
        }
        Ok(None)
    }

    /// Reads one timeline newer than `since_id` (first start: newer than `now - backfill`),
    /// paging until it is all read, and returns its tweets (as this timeline keeps them) and
    /// the cursor to resume from. The cursor moves only when every page was read: if paging
    /// stops early (429, budget, a failed page) the pages read are kept but the old cursor is
    /// returned, so the rest is read again (dedupe drops the repeats) and nothing is skipped.
    /// Only a failed first page is an error.
    async fn read_timeline(
        &self,
        timeline: Timeline,
        since_id: Option<&str>,
        reading: &mut Reading,
    ) -> Result<(Vec<Mention>, Option<String>), SourceError> {
        let since_id = match since_id {
            Some(id) if is_tweet_id(id) => Some(id.to_string()),
            Some(other) => {
                tracing::warn!(source = %self.settings.name, cursor = other, "Ignoring a cursor that is not a tweet id");
                None
            }
            None => None,
        };
        let path = match timeline {
            Timeline::Mentions => format!("/2/users/{}/mentions", self.settings.user_id),
            Timeline::Own => format!("/2/users/{}/tweets", self.settings.user_id),
            Timeline::Search => "/2/tweets/search/recent".to_string(),
        };
        let (page_min, token_name) = match timeline {
            Timeline::Search => (SEARCH_PAGE_MIN, "next_token"),
            _ => (PAGE_MIN, "pagination_token"),
        };
        let mut pagination_token: Option<String> = None;
        let mut newest_id: Option<String> = None;
        let mut found = Vec::new();
        let mut complete = true;
        for page_number in 0.. {
            let left = reading.budget.saturating_sub(reading.reads);
            let mut query = vec![
                ("max_results", left.clamp(page_min, PAGE_MAX).to_string()),
                ("expansions", "author_id".to_string()),
                ("tweet.fields", TWEET_FIELDS.to_string()),
                ("user.fields", USER_FIELDS.to_string()),
            ];
            match timeline {
                Timeline::Mentions => {}
                Timeline::Own => query.push(("exclude", "retweets".to_string())),
                Timeline::Search => {
                    query.push(("query", search_query(&self.settings.keywords)));
                    query.push(("sort_order", "recency".to_string()));
                }
            }
            match &since_id {
                Some(id) => query.push(("since_id", id.clone())),
                None => {
                    let mut backfill = chrono::Duration::from_std(self.settings.backfill)
                        .unwrap_or(chrono::Duration::hours(1));
                    if timeline == Timeline::Search {
                        // Recent search only looks back seven days.
                        backfill =
                            backfill.min(chrono::Duration::days(7) - chrono::Duration::minutes(5));
                    }
                    let start = (reading.now - backfill).to_rfc3339_opts(SecondsFormat::Secs, true);
                    query.push(("start_time", start));
                }
            }
            if let Some(token) = &pagination_token {
                query.push((token_name, token.clone()));
            }
            let (page, exhausted) = match self.read_page(&path, &query).await {
                Ok(read) => read,
                Err(error) if page_number == 0 => return Err(error),
                Err(error) => {
                    tracing::warn!(source = %self.settings.name, timeline = ?timeline, error = %error, "Paging stopped early");
                    if let SourceError::RateLimited { retry_after } = error {
                        reading.wait = reading.wait.max(Some(retry_after));
                    }
                    complete = false;
                    break;
                }
            };
            reading.reads = self
                .spend(&reading.month, "reads", page.data.len() as u64)
                .await?;
            reading.wait = reading.wait.max(exhausted);
            if page_number == 0 {
                newest_id = page.meta.newest_id.clone();
            }
            for mut mention in page.mentions(&self.settings.name, &self.settings.user_id) {
                match timeline {
                    Timeline::Mentions => {}
                    Timeline::Own => {
                        // Only answers can be answers to a case; our own replies are known.
                        if !mention.from_brand
                            || mention.in_reply_to.is_none()
                            || self.posted.contains(&mention.id)
                        {
                            continue;
                        }
                    }
                    Timeline::Search => {
                        if mention.kind == MentionKind::Mention {
                            mention.kind = MentionKind::Keyword;
                        }
                    }
                }
                found.push(mention);
            }
            let Some(next) = page.meta.next_token else {
                break;
            };
            if reading.reads >= reading.budget || exhausted.is_some() {
                complete = false;
                break;
            }
            pagination_token = Some(next);
        }
        let cursor = if complete {
            newest_id.or(since_id)
        } else {
            since_id
        };
        Ok((found, cursor))
    }

    /// A failed read of the own timeline or of the search: logged, and a rate limit waited
    /// out; the mentions read before it are still delivered.
    fn side_read_failed(&self, what: &str, error: SourceError, reading: &mut Reading) {
        tracing::warn!(source = %self.settings.name, read = what, error = %error, "Cannot read from X");
        if let SourceError::RateLimited { retry_after } = error {
            reading.wait = reading.wait.max(Some(retry_after));
        }
    }

    /// Posts the budget notices due at `reads`: one when `budget_notice_at` of the month's read
    /// budget is used, one when it is spent. Each is posted once per month and source: the
    /// store remembers it was sent (across restarts), memory stops repeats before that.
    async fn budget_notice(&self, month: &str, reads: u64, now: DateTime<Utc>) {
        let budget = self.settings.monthly_read_budget;
        let share = self.settings.budget_notice_at;
        let name = &self.settings.name;
        let notice = if reads >= budget {
            (
                "notice-spent",
                format!(
                    "⛔ X source {name}: the monthly read budget is spent ({reads} of {budget} tweets read in {month}); no mentions are read until {}",
                    next_month_start(now).format("%Y-%m-%d")
                ),
            )
        } else if (reads as f64) >= (budget as f64) * share {
            (
                "notice-share",
                format!(
                    "⚠️ X source {name}: {} % of the monthly read budget is used ({reads} of {budget} tweets read in {month}); polling slows down at 80 % and stops at 100 % until {}",
                    (reads * 100) / budget.max(1),
                    next_month_start(now).format("%Y-%m-%d")
                ),
            )
        } else {
            return;
        };
        let (kind, text) = notice;
        if !self.first_notice(month, kind) {
            return;
        }
        let key = format!("x-notice/{name}/{month}/{kind}");
        match self.store.counter(&key) {
            Ok(0) => {}
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(source = %name, error = %error, "Cannot read whether the budget notice was sent");
                return;
            }
        }
        if kind == "notice-spent" {
            // The share notice is moot once the budget is spent.
            let _ = self.first_notice(month, "notice-share");
        }
        self.ops.post(&text).await;
        if let Err(error) = self.store.add_to_counter(&key, 1).await {
            tracing::warn!(source = %name, error = %error, "Cannot record that the budget notice was sent");
        }
    }

    /// The OAuth 1.0a `Authorization` header for a POST to `url` (a JSON body is not signed).
    fn oauth_header(&self, url: &str) -> String {
        let token = oauth1_request::Token::from_parts(
            self.settings.consumer_key.expose(),
            self.settings.consumer_secret.expose(),
            self.settings.access_token.expose(),
            self.settings.access_token_secret.expose(),
        );
        oauth1_request::post(url, &(), &token, oauth1_request::HMAC_SHA1)
    }
}

#[async_trait]
impl SourceClient for XSource {
    fn name(&self) -> &str {
        &self.settings.name
    }

    fn poll_interval(&self) -> Duration {
        self.settings.poll_interval
    }

    async fn verify(&self) -> Result<String, SourceError> {
        // The bearer token reads the brand's account; the OAuth 1.0a keys are only used (and
        // so only proven) by the first reply.
        let path = format!("/2/users/{}", self.settings.user_id);
        let response = self
            .http
            .get(self.url(&path))
            .bearer_auth(self.settings.bearer_token.expose())
            .send()
            .await
            .map_err(http::transport_error)?;
        let user: serde_json::Value = check(response)
            .await?
            .json()
            .await
            .map_err(http::transport_error)?;
        let username = user["data"]["username"].as_str().ok_or_else(|| {
            SourceError::Rejected(format!(
                "X did not return the user {}",
                self.settings.user_id
            ))
        })?;
        Ok(format!(
            "bearer token reads @{username}; the OAuth keys are proven by the first reply"
        ))
    }

    async fn fetch(&self, cursor: Option<&str>) -> Result<Fetched, SourceError> {
        let now = Utc::now();
        let month = month_of(now);
        let budget = self.settings.monthly_read_budget;
        let reads = self.used(&month, "reads")?;
        if reads >= budget {
            let message = format!(
                "monthly read budget spent: {reads} of {budget} tweets read in {month}; reading resumes on {}",
                next_month_start(now).format("%Y-%m-%d")
            );
            if self.first_notice(&month, "reads-spent") {
                tracing::error!(source = %self.settings.name, reads, budget, "Monthly X read budget spent; not reading until the month changes");
            }
            self.budget_notice(&month, reads, now).await;
            return Err(SourceError::Transient(message));
        }
        let mut position = Cursor::parse(cursor, &self.settings.name);
        let mut reading = Reading {
            month: month.clone(),
            budget,
            reads,
            wait: None,
            now,
        };
        let (mut mentions, newest) = self
            .read_timeline(
                Timeline::Mentions,
                position.mentions.as_deref(),
                &mut reading,
            )
            .await?;
        position.mentions = newest;
        // While a reply is being posted, our new tweet could be read here before the reply is
        // recorded as ours; the next fetch reads it instead.
        let replying = self.replies_in_flight.load(Ordering::SeqCst) > 0;
        if reading.reads < budget && !replying {
            match self
                .read_timeline(Timeline::Own, position.own.as_deref(), &mut reading)
                .await
            {
                Ok((own, newest)) => {
                    mentions.extend(own);
                    position.own = newest;
                }
                Err(error) => self.side_read_failed("own tweets", error, &mut reading),
            }
        }
        if !self.settings.keywords.is_empty() && reading.reads < budget {
            match self
                .read_timeline(Timeline::Search, position.search.as_deref(), &mut reading)
                .await
            {
                Ok((found, newest)) => {
                    // A tweet that is a mention too stays a mention.
                    let known: HashSet<String> = mentions.iter().map(|m| m.id.clone()).collect();
                    mentions.extend(found.into_iter().filter(|m| !known.contains(&m.id)));
                    position.search = newest;
                }
                Err(error) => self.side_read_failed("keyword search", error, &mut reading),
            }
        }
        mentions.sort_by(|a, b| compare_ids(&a.id, &b.id));
        let reads = reading.reads;
        let mut interval = self.settings.poll_interval;
        if reads.saturating_mul(5) >= budget.saturating_mul(4) {
            interval *= 2;
            if self.first_notice(&month, "reads-80") {
                tracing::warn!(source = %self.settings.name, reads, budget, ?interval, "80 % of the monthly X read budget used; polling less often");
            }
        }
        self.budget_notice(&month, reads, now).await;
        Ok(Fetched {
            mentions,
            cursor: position.encode(),
            wait: Some(reading.wait.map_or(interval, |wait| wait.max(interval))),
        })
    }

    async fn reply(&self, request: &ReplyRequest) -> Result<ReplyReceipt, SourceError> {
        let _in_flight = InFlight::enter(&self.replies_in_flight);
        if request.in_reply_to.network != Network::X || !is_tweet_id(&request.in_reply_to.id) {
            return Err(SourceError::Rejected(format!(
                "{} is not a tweet this X source can answer",
                request.in_reply_to
            )));
        }
        let month = month_of(Utc::now());
        let budget = self.settings.monthly_write_budget;
        let writes = self.used(&month, "writes")?;
        if writes >= budget {
            return Err(SourceError::Rejected(format!(
                "the monthly X write budget is spent ({writes} of {budget} posts in {month}); nothing was posted"
            )));
        }
        if let Some(existing) = self.already_replied(request, &month).await? {
            tracing::info!(source = %self.settings.name, reply_id = %request.reply_id, post_id = %existing.post_id, "Reply already on X; not posting it again");
            self.posted.remember(&existing.post_id);
            return Ok(existing);
        }
        let url = self.url("/2/tweets");
        let body = CreateTweet {
            text: &request.text,
            reply: CreateTweetReply {
                in_reply_to_tweet_id: &request.in_reply_to.id,
            },
        };
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, self.oauth_header(&url))
            .json(&body)
            .send()
            .await
            .map_err(http::transport_error)?;
        let response = check(response).await?;
        let created: Created = response.json().await.map_err(|error| {
            // X may have posted it: a retry's check finds it rather than posting again.
            SourceError::Transient(format!("unreadable answer to the post from X: {error}"))
        })?;
        let Some(data) = created.data else {
            return Err(SourceError::Transient(
                "X answered the post without its id".to_string(),
            ));
        };
        self.posted.remember(&data.id);
        self.spend(&month, "writes", 1).await?;
        Ok(receipt(&data.id))
    }
}

/// Counts a reply in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The timelines a fetch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timeline {
    /// `GET /2/users/:id/mentions`.
    Mentions,
    /// `GET /2/users/:id/tweets`: the brand's answers made outside mentiondesk.
    Own,
    /// `GET /2/tweets/search/recent`: the keyword watch.
    Search,
}

/// What one fetch has read so far against the monthly budget.
#[derive(Debug)]
struct Reading {
    month: String,
    budget: u64,
    reads: u64,
    /// The longest wait a rate limit asked for.
    wait: Option<Duration>,
    now: DateTime<Utc>,
}

/// Where the source resumes: the newest tweet id read from each timeline. Stored as JSON; a
/// bare id (the cursor before own tweets and search were read) is the mentions cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mentions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    own: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    search: Option<String>,
}

impl Cursor {
    fn parse(text: Option<&str>, source: &str) -> Cursor {
        let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
            return Cursor::default();
        };
        if text.starts_with('{') {
            serde_json::from_str(text).unwrap_or_else(|error| {
                tracing::warn!(source, cursor = %text, error = %error, "Unreadable X cursor; starting over with the backfill window");
                Cursor::default()
            })
        } else {
            Cursor {
                mentions: Some(text.to_string()),
                ..Cursor::default()
            }
        }
    }

    fn encode(&self) -> Option<String> {
        if *self == Cursor::default() {
            return None;
        }
        serde_json::to_string(self).ok()
    }
}

/// The recent-search query for `keywords`: any of them (phrases quoted), retweets left out.
pub fn search_query(keywords: &[String]) -> String {
    let terms: Vec<String> = keywords
        .iter()
        .map(|keyword| keyword.trim())
        .filter(|keyword| !keyword.is_empty())
        .map(|keyword| {
            if keyword.contains(char::is_whitespace) {
                format!("\"{keyword}\"")
            } else {
                keyword.to_string()
            }
        })
        .collect();
    match terms.len() {
        0 => String::new(),
        1 => format!("{} -is:retweet", terms[0]),
        _ => format!("({}) -is:retweet", terms.join(" OR ")),
    }
}

/// `POST /2/tweets` body (`TweetCreateRequest`).
#[derive(Debug, Serialize)]
struct CreateTweet<'a> {
    text: &'a str,
    reply: CreateTweetReply<'a>,
}

#[derive(Debug, Serialize)]
struct CreateTweetReply<'a> {
    in_reply_to_tweet_id: &'a str,
}

/// `POST /2/tweets` answer (`TweetCreateResponse`).
#[derive(Debug, Deserialize)]
struct Created {
    #[serde(default)]
    data: Option<CreatedData>,
}

#[derive(Debug, Deserialize)]
struct CreatedData {
    id: String,
}

/// One page of a tweet timeline (`Get2UsersIdMentionsResponse`, `Get2UsersIdTweetsResponse`).
/// Tweets and users stay JSON until mapped one by one, so one malformed item is skipped
/// without losing the page.
#[derive(Debug, Default, Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    meta: Meta,
    #[serde(default)]
    errors: Vec<Problem>,
}

#[derive(Debug, Default, Deserialize)]
struct Includes {
    #[serde(default)]
    users: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    newest_id: Option<String>,
    #[serde(default)]
    next_token: Option<String>,
}

/// An RFC 7807 problem as X sends it, in error answers and as partial errors.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    resource_id: Option<String>,
    /// `InvalidRequestProblem` lists what was wrong with each parameter.
    #[serde(default)]
    errors: Vec<ProblemItem>,
}

#[derive(Debug, Deserialize)]
struct ProblemItem {
    #[serde(default)]
    message: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.title.clone());
        parts.extend(self.detail.clone());
        parts.extend(self.errors.iter().filter_map(|item| item.message.clone()));
        if let Some(id) = &self.resource_id {
            parts.push(format!("resource {id}"));
        }
        if parts.is_empty() {
            parts.extend(self.kind.clone());
        }
        f.write_str(&parts.join(": "))
    }
}

#[derive(Debug, Deserialize)]
struct Tweet {
    id: String,
    text: String,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    referenced_tweets: Vec<ReferencedTweet>,
    #[serde(default)]
    lang: Option<String>,
}

impl Tweet {
    fn referenced(&self, kind: &str) -> Option<&str> {
        self.referenced_tweets
            .iter()
            .find(|reference| reference.kind == kind)
            .map(|reference| reference.id.as_str())
    }

    fn replied_to(&self) -> Option<&str> {
        self.referenced("replied_to")
    }
}

#[derive(Debug, Deserialize)]
struct ReferencedTweet {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Clone, Deserialize)]
struct User {
    id: String,
    username: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    public_metrics: Option<PublicMetrics>,
}

#[derive(Debug, Clone, Deserialize)]
struct PublicMetrics {
    #[serde(default)]
    followers_count: Option<u64>,
}

impl Page {
    /// The page's tweets as mentions; retweets and malformed tweets are skipped (logged).
    fn mentions(&self, source: &str, brand_user_id: &str) -> Vec<Mention> {
        let mut users = HashMap::new();
        for value in &self.includes.users {
            match serde_json::from_value::<User>(value.clone()) {
                Ok(user) => {
                    users.insert(user.id.clone(), user);
                }
                Err(error) => {
                    tracing::warn!(source, error = %error, "Skipping a malformed X user");
                }
            }
        }
        self.data
            .iter()
            .filter_map(
                |value| match to_mention(source, brand_user_id, value, &users) {
                    Ok(mention) => mention,
                    Err(reason) => {
                        let id = value.get("id").and_then(Value::as_str).unwrap_or("?");
                        tracing::warn!(source, tweet = id, reason = %reason, "Skipping a malformed X tweet");
                        None
                    }
                },
            )
            .collect()
    }
}

/// Maps one tweet to a mention: `Ok(None)` for a retweet (ignored), `Err` when it is malformed.
fn to_mention(
    source: &str,
    brand_user_id: &str,
    value: &Value,
    users: &HashMap<String, User>,
) -> Result<Option<Mention>, String> {
    let tweet: Tweet = serde_json::from_value(value.clone()).map_err(|error| error.to_string())?;
    if !is_tweet_id(&tweet.id) {
        return Err(format!("bad tweet id {:?}", tweet.id));
    }
    if tweet.referenced("retweeted").is_some() {
        return Ok(None);
    }
    let author_id = tweet.author_id.as_deref().ok_or("no author_id")?;
    let user = users
        .get(author_id)
        .ok_or_else(|| format!("author {author_id} is not in includes.users"))?;
    let created_at = tweet.created_at.ok_or("no created_at")?;
    let in_reply_to = tweet.replied_to().map(str::to_string);
    let kind = if in_reply_to.is_some() {
        MentionKind::Reply
    } else if tweet.referenced("quoted").is_some() {
        MentionKind::Quote
    } else {
        MentionKind::Mention
    };
    Ok(Some(Mention {
        network: Network::X,
        source: source.to_string(),
        url: format!("{WEB_URL}/{}/status/{}", user.username, tweet.id),
        author: Author {
            id: user.id.clone(),
            handle: user.username.clone(),
            display_name: user.name.clone().filter(|name| !name.is_empty()),
            followers: user
                .public_metrics
                .as_ref()
                .and_then(|metrics| metrics.followers_count),
        },
        text: unescape(&tweet.text),
        created_at,
        in_reply_to,
        root: tweet.conversation_id.clone(),
        kind,
        lang: tweet.lang.clone(),
        from_brand: author_id == brand_user_id,
        raw: Some(value.clone()),
        id: tweet.id,
    }))
}

/// Turns an X error answer into the right `SourceError`, quoting X's problem.
async fn check(response: Response) -> Result<Response, SourceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(SourceError::RateLimited {
            retry_after: http::rate_limit_wait(&headers, Utc::now())
                .unwrap_or(http::DEFAULT_RATE_LIMIT_WAIT),
        });
    }
    let problem = describe_error(&body);
    let message = format!("X answered HTTP {}: {problem}", status.as_u16());
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Err(SourceError::Transient(message))
    } else {
        Err(SourceError::Rejected(message))
    }
}

/// X's error body in a sentence: a `Problem`, the older `{errors: [{message}]}`, or an excerpt.
fn describe_error(body: &str) -> String {
    if let Ok(problem) = serde_json::from_str::<Problem>(body) {
        let described = problem.to_string();
        if !described.is_empty() {
            return described;
        }
    }
    body.chars().take(300).collect()
}

fn receipt(id: &str) -> ReplyReceipt {
    ReplyReceipt {
        post_id: id.to_string(),
        url: Some(format!("{WEB_URL}/i/web/status/{id}")),
    }
}

/// A tweet id as the API defines it: `^[0-9]{1,19}$`.
fn is_tweet_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 19 && id.bytes().all(|byte| byte.is_ascii_digit())
}

/// Orders numeric ids without parsing them (shorter is older).
fn compare_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The budget month of `now`, e.g. `2026-11`.
fn month_of(now: DateTime<Utc>) -> String {
    now.format("%Y-%m").to_string()
}

fn next_month_start(now: DateTime<Utc>) -> chrono::NaiveDate {
    let (year, month) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    chrono::NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(now.date_naive())
}

/// Undoes the HTML escaping X applies to tweet text (`&amp;`, `&lt;`, `&gt;`).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A reply's text as compared by the exactly-once check. X returns `&`, `<`, `>` escaped and
/// links wrapped in t.co, and may put the reply's @mentions in front, so those are left out.
fn comparable_text(text: &str) -> String {
    let unescaped = unescape(text);
    let mut words: Vec<&str> = unescaped.split_whitespace().collect();
    let leading_mentions = words
        .iter()
        .take_while(|word| word.starts_with('@') && word.len() > 1)
        .count();
    words.drain(..leading_mentions);
    words
        .into_iter()
        .map(|word| {
            if word.starts_with("http://") || word.starts_with("https://") {
                "<link>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Entry points for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn users() -> HashMap<String, User> {
        let page: Page = serde_json::from_value(json!({
            "includes": { "users": [
                { "id": "2244994945", "username": "jo_x", "name": "Jo", "public_metrics": {
                    "followers_count": 12, "following_count": 3, "tweet_count": 40, "listed_count": 0 } },
                { "id": "1000000001", "username": "AcmeSupport", "name": "Acme Support" },
                { "id": "7", "username": "no_name", "name": "" }
            ] }
        }))
        .unwrap();
        page.includes
            .users
            .iter()
            .map(|value| {
                let user: User = serde_json::from_value(value.clone()).unwrap();
                (user.id.clone(), user)
            })
            .collect()
    }

    fn tweet(extra: Value) -> Value {
        let mut tweet = json!({
            "id": "1850000000000000010",
            "text": "@AcmeSupport my order never arrived &amp; I&#39;m &lt;angry&gt;",
            "author_id": "2244994945",
            "created_at": "2026-11-20T09:00:00.000Z",
            "conversation_id": "1850000000000000010",
            "edit_history_tweet_ids": ["1850000000000000010"],
            "lang": "en"
        });
        if let (Some(tweet), Some(extra)) = (tweet.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                if value.is_null() {
                    tweet.remove(key);
                } else {
                    tweet.insert(key.clone(), value.clone());
                }
            }
        }
        tweet
    }

    /// What a mapping should give: kind, in_reply_to, root, from_brand, handle, url.
    #[derive(Debug, PartialEq)]
    struct Expect {
        kind: MentionKind,
        in_reply_to: Option<&'static str>,
        root: Option<&'static str>,
        from_brand: bool,
        handle: &'static str,
        url: &'static str,
    }

    #[test]
    fn tweets_map_to_mentions() {
        let users = users();
        let plain = Expect {
            kind: MentionKind::Mention,
            in_reply_to: None,
            root: Some("1850000000000000010"),
            from_brand: false,
            handle: "jo_x",
            url: "https://x.com/jo_x/status/1850000000000000010",
        };
        let cases: Vec<(&str, Value, Option<Expect>)> = vec![
            ("a plain mention", tweet(json!({})), Some(plain)),
            (
                "a reply in a conversation",
                tweet(json!({
                    "conversation_id": "1850000000000000001",
                    "in_reply_to_user_id": "1000000001",
                    "referenced_tweets": [{ "type": "replied_to", "id": "1850000000000000005" }]
                })),
                Some(Expect {
                    kind: MentionKind::Reply,
                    in_reply_to: Some("1850000000000000005"),
                    root: Some("1850000000000000001"),
                    from_brand: false,
                    handle: "jo_x",
                    url: "https://x.com/jo_x/status/1850000000000000010",
                }),
            ),
            (
                "a quote",
                tweet(
                    json!({ "referenced_tweets": [{ "type": "quoted", "id": "1850000000000000002" }] }),
                ),
                Some(Expect {
                    kind: MentionKind::Quote,
                    in_reply_to: None,
                    root: Some("1850000000000000010"),
                    from_brand: false,
                    handle: "jo_x",
                    url: "https://x.com/jo_x/status/1850000000000000010",
                }),
            ),
            (
                "the brand's own tweet",
                tweet(json!({ "author_id": "1000000001" })),
                Some(Expect {
                    kind: MentionKind::Mention,
                    in_reply_to: None,
                    root: Some("1850000000000000010"),
                    from_brand: true,
                    handle: "AcmeSupport",
                    url: "https://x.com/AcmeSupport/status/1850000000000000010",
                }),
            ),
            (
                "a retweet is ignored",
                tweet(json!({ "text": "RT @jo_x: my order never arrived",
                    "referenced_tweets": [{ "type": "retweeted", "id": "1850000000000000003" }] })),
                None,
            ),
        ];
        for (name, value, expected) in cases {
            let mention = to_mention("x", "1000000001", &value, &users)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            let got = mention.as_ref().map(|mention| Expect {
                kind: mention.kind,
                in_reply_to: mention.in_reply_to.as_deref().map(leak),
                root: mention.root.as_deref().map(leak),
                from_brand: mention.from_brand,
                handle: leak(&mention.author.handle),
                url: leak(&mention.url),
            });
            assert_eq!(got, expected, "{name}");
        }
    }

    fn leak(text: &str) -> &'static str {
        Box::leak(text.to_string().into_boxed_str())
    }

    #[test]
    fn a_mention_keeps_author_language_time_and_raw_json() {
        let value = tweet(json!({}));
        let mention = to_mention("x-main", "1000000001", &value, &users())
            .unwrap()
            .unwrap();
        assert_eq!(mention.network, Network::X);
        assert_eq!(mention.source, "x-main");
        assert_eq!(mention.id, "1850000000000000010");
        assert_eq!(
            mention.text, "@AcmeSupport my order never arrived & I&#39;m <angry>",
            "X escapes only &, < and >"
        );
        assert_eq!(
            mention.author,
            Author {
                id: "2244994945".to_string(),
                handle: "jo_x".to_string(),
                display_name: Some("Jo".to_string()),
                followers: Some(12),
            }
        );
        assert_eq!(mention.lang.as_deref(), Some("en"));
        assert_eq!(mention.created_at.to_rfc3339(), "2026-11-20T09:00:00+00:00");
        assert_eq!(mention.raw, Some(value));
        let nameless = to_mention("x", "1", &tweet(json!({ "author_id": "7" })), &users())
            .unwrap()
            .unwrap();
        assert_eq!(nameless.author.display_name, None);
        assert_eq!(nameless.author.followers, None);
    }

    #[test]
    fn malformed_tweets_are_errors_not_panics() {
        let users = users();
        let cases = [
            ("no id", tweet(json!({ "id": null })), "missing field `id`"),
            (
                "id not numeric",
                tweet(json!({ "id": "abc" })),
                "bad tweet id",
            ),
            (
                "no author",
                tweet(json!({ "author_id": null })),
                "no author_id",
            ),
            (
                "author not included",
                tweet(json!({ "author_id": "99" })),
                "not in includes.users",
            ),
            (
                "no time",
                tweet(json!({ "created_at": null })),
                "no created_at",
            ),
            (
                "text not a string",
                tweet(json!({ "text": 5 })),
                "invalid type",
            ),
            (
                "not an object",
                json!("1850000000000000010"),
                "invalid type",
            ),
        ];
        for (name, value, expected) in cases {
            let error = to_mention("x", "1000000001", &value, &users)
                .err()
                .unwrap_or_else(|| panic!("{name}: accepted"));
            assert!(error.contains(expected), "{name}: {error}");
        }
    }

    #[test]
    fn a_page_skips_bad_items_and_keeps_the_rest() {
        let page: Page = serde_json::from_value(json!({
            "data": [
                tweet(json!({})),
                tweet(json!({ "id": "1850000000000000011", "author_id": "404" })),
                { "id": 12 }
            ],
            "includes": { "users": [
                { "id": "2244994945", "username": "jo_x", "name": "Jo" },
                { "username": "no id" }
            ] },
            "errors": [{
                "value": "404", "detail": "Could not find user with id: [404].",
                "title": "Not Found Error", "resource_type": "user", "parameter": "id",
                "resource_id": "404", "type": "https://api.twitter.com/2/problems/resource-not-found"
            }],
            "meta": { "newest_id": "1850000000000000011", "oldest_id": "1850000000000000010",
                "result_count": 3 }
        }))
        .unwrap();
        let mentions = page.mentions("x", "1000000001");
        assert_eq!(mentions.len(), 1);
        assert_eq!(mentions[0].id, "1850000000000000010");
        assert_eq!(
            page.errors[0].to_string(),
            "Not Found Error: Could not find user with id: [404].: resource 404"
        );
    }

    #[test]
    fn error_bodies_are_quoted_in_a_sentence() {
        let cases = [
            (
                r#"{"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request","errors":[{"message":"text is too long","parameters":{"text":["x"]}}]}"#,
                "Invalid Request: One or more parameters to your request was invalid.: text is too long",
            ),
            (
                r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
                "Unauthorized: Unauthorized",
            ),
            (r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#, "Rate limit exceeded"),
            ("<html>bad gateway</html>", "<html>bad gateway</html>"),
        ];
        for (body, expected) in cases {
            assert_eq!(describe_error(body), expected, "{body}");
        }
    }

    #[test]
    fn reply_texts_compare_the_way_x_returns_them() {
        let ours = comparable_text("@jo_x sorry & thanks <3 see https://acme.example/help");
        let cases = [
            (
                "@jo_x sorry &amp; thanks &lt;3 see https://t.co/abc123",
                true,
            ),
            (
                "@jo_x @AcmeSupport sorry &amp; thanks &lt;3 see https://t.co/x",
                true,
            ),
            ("sorry & thanks <3 see https://acme.example/help", true),
            ("@jo_x sorry & thanks <3", false),
            ("@jo_x sorry and thanks <3 see https://t.co/abc123", false),
        ];
        for (returned, same) in cases {
            assert_eq!(comparable_text(returned) == ours, same, "{returned}");
        }
    }

    #[test]
    fn ids_months_and_budget_dates() {
        assert!(is_tweet_id("1850000000000000010"));
        assert!(!is_tweet_id(""));
        assert!(!is_tweet_id("18500000000000000100"));
        assert!(!is_tweet_id("at://x"));
        assert_eq!(
            compare_ids("999", "1000"),
            std::cmp::Ordering::Less,
            "numeric, not lexical"
        );
        let december = DateTime::parse_from_rfc3339("2026-12-31T23:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(month_of(december), "2026-12");
        assert_eq!(next_month_start(december).to_string(), "2027-01-01");
    }
}
